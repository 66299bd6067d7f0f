"""Building a day's problem: the department's open, located issues (one job per duplicate group), the
crews on shift, windows from appointments and due-today SLAs, priorities; Django rows in, plain dataclasses out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from gis_app.models import Department, Holiday, ServiceRequest
from gis_app.transitions import DISPATCHABLE
from layers.coords import lonlat as lonlat_of
from routing.matrix import travel_matrix
from routing.models import Crew
from routing.network import NetworkError, StreetGraph
from routing.problem import Break, CrewSpec, DropReason, Job, Matrix, Problem, SolverSettings, TimeWindow
from routing.streets import street_graph_for


class PlanningError(ValueError):
    """The day cannot be planned as asked; the message says what is missing."""


@dataclass
class BuiltProblem:
    """A routing problem plus what is needed to turn its solution back into rows."""

    day: dt.date
    department: Department
    skill_group: str
    reference: dt.datetime  # seconds in the problem count from here (local midnight of the day)
    problem: Problem
    requests: dict[str, ServiceRequest]  # job id (ticket) → request
    crews: dict[str, Crew]  # crew id (code) → crew
    due: dict[str, int]  # job id → SLA due, seconds from reference (absent: no due date)
    held_back: list[dict[str, str]]  # jobs not in today's problem, with reasons
    points: list[tuple[str, float, float]]  # matrix point ids with lon/lat, in matrix order
    graph: StreetGraph
    notes: list[str] = field(default_factory=list)
    locks: dict[str, list[str]] = field(default_factory=dict)

    def at(self, seconds: int | float) -> dt.datetime:
        return self.reference + dt.timedelta(seconds=int(seconds))

    def seconds(self, when: dt.datetime) -> int:
        return int((when - self.reference).total_seconds())


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(settings.TIME_ZONE))


def _appointment(req: ServiceRequest, day: dt.date) -> tuple[dt.time, dt.time] | None:
    """An appointment window a resident agreed ("HH:MM-HH:MM" in the request's attributes), if any."""
    text = (req.attributes or {}).get(settings.ROUTING_APPOINTMENT_ATTRIBUTE)
    if not isinstance(text, str) or "-" not in text:
        return None
    try:
        a, b = (dt.time.fromisoformat(p.strip()) for p in text.split("-", 1))
    except ValueError:
        return None
    return (a, b) if b > a else None


def dispatch_pool(department: Department, skill_group: str = "") -> Any:
    """Open issues of the department a crew can go to: located, crew work, not duplicates, not on hold."""
    qs = (
        ServiceRequest.objects.filter(
            department=department,
            status__in=DISPATCHABLE,
            parent__isnull=True,
            location__isnull=False,
            service_type__location_required=True,
            service_type__crew_work=True,
        )
        .select_related("service_type")
        .annotate(reporters=Count("duplicates"))
    )
    if skill_group:
        qs = qs.filter(service_type__required_skill=skill_group)
    return qs


def crews_for(day: dt.date, department: Department, skill_group: str = "") -> tuple[list[Crew], list[str]]:
    """The department's crews working that day (none on a city holiday), with notes on who is not."""
    notes: list[str] = []
    holiday = Holiday.objects.filter(date=day).first()
    if holiday:
        return [], [f"{day} is a city holiday ({holiday.name}): no crews are scheduled"]
    crews = Crew.objects.filter(department=department).on_shift(day)
    if skill_group:
        crews = [c for c in crews if skill_group in (c.skills or [])]
    if not crews:
        notes.append(
            f"no {department.name} crew{' with skill ' + skill_group if skill_group else ''} works on {day:%A %Y-%m-%d}"
        )
    return crews, notes


def next_working_day(department: Department, start: dt.date, horizon_days: int = 14) -> dt.date | None:
    """The first day from `start` on which some crew of the department is on shift (not a city holiday):
    what a dispatcher plans, and what the demo shows, when today is a weekend or a holiday."""
    holidays = set(
        Holiday.objects.filter(date__range=(start, start + dt.timedelta(days=horizon_days))).values_list(
            "date", flat=True
        )
    )
    for offset in range(horizon_days + 1):
        day = start + dt.timedelta(days=offset)
        if day not in holidays and Crew.objects.filter(department=department).on_shift(day):
            return day
    return None


def _no_crews_reason(day: dt.date, department: Department, skill_group: str, notes: list[str]) -> str:
    """Why a day cannot be planned when no crew works it, with what waits and when a crew works next."""
    waiting = dispatch_pool(department, skill_group).count()
    after = next_working_day(department, day + dt.timedelta(days=1))
    reason = "; ".join(notes) or f"no {department.name} crew works on {day:%A %Y-%m-%d}"
    reason += f": {waiting} open request{'s' if waiting != 1 else ''} wait"
    return reason + (f"; the next day a crew works is {after:%A %Y-%m-%d}" if after else "")


def urgency(type_priority: int, *, overdue: bool, duplicates: int = 0) -> int:
    """The one priority formula (1 low … 5 high): the type's priority, one more when overdue, one more when two
    or more duplicate reports stand behind the issue."""
    return min(5, type_priority + (1 if overdue else 0) + (1 if duplicates >= 2 else 0))


@dataclass
class _Clock:
    """Seconds from local midnight of the planned day (the problem's time axis)."""

    day: dt.date
    reference: dt.datetime

    def sec(self, when: dt.datetime) -> int:
        return int((when - self.reference).total_seconds())

    def at(self, t: dt.time) -> int:
        return self.sec(dt.datetime.combine(self.day, t, tzinfo=self.reference.tzinfo))


def build_problem(
    day: dt.date,
    department: Department,
    *,
    skill_group: str = "",
    now: dt.datetime | None = None,
    pins: Mapping[str, str] | None = None,
    locks: Mapping[str, Sequence[str]] | None = None,
    solver_settings: SolverSettings | None = None,
    max_jobs: int | None = None,
) -> BuiltProblem:
    """The day's routing problem for one department (or one skill group of it): rank the pool, batch what the
    crews can do, place it on the street network, then crews and jobs as the solver sees them."""
    now = now or timezone.now()
    clock = _Clock(day, _local_midnight(day))
    crews, notes = crews_for(day, department, skill_group)
    if not crews:
        raise PlanningError(_no_crews_reason(day, department, skill_group, notes))
    pins = dict(pins or {})
    locks = {k: list(v) for k, v in (locks or {}).items()}
    shifts = {c.code: tuple(clock.sec(t) for t in c.shift_on(day)) for c in crews}
    day_start = min((s for s, _ in shifts.values()), default=clock.sec(clock.reference + dt.timedelta(hours=8)))
    day_end = max((e for _, e in shifts.values()), default=clock.sec(clock.reference + dt.timedelta(hours=17)))
    candidates, held = _rank_pool(
        department, skill_group, crews, pins, locks, clock.reference + dt.timedelta(seconds=day_end)
    )
    depots = [(f"depot:{c.code}", c.depot.location.x, c.depot.location.y) for c in crews]
    try:  # the network for the whole pool, so the day is filled with work it can reach
        graph = street_graph_for(
            [(x, y) for _, x, y in depots] + [lonlat_of(r.location) for _, r in candidates if r.location is not None]
        )
    except NetworkError as exc:
        raise PlanningError(str(exc)) from exc
    candidates = _on_network(candidates, graph, held)
    chosen = _batch(candidates, crews, shifts, max_jobs or settings.ROUTING_MAX_JOBS_PER_PLAN, held)
    points = depots + [(f"job:{r.ticket}", r.location.x, r.location.y) for r in chosen if r.location is not None]
    tm = travel_matrix(graph, points)
    index = {pid: i for i, pid in enumerate(tm.point_ids)}
    _hold_unroutable(tm.unroutable, graph, points, held, notes)
    specs, by_code = _crew_specs(crews, shifts, index, clock)
    locked_to = {t: crew for crew, chain in locks.items() for t in chain}
    jobs, requests, due = _jobs(
        chosen, index, clock, now, pins, locked_to, min((c.shift_start for c in specs), default=day_start), day_end
    )
    jobs = _relax_unreachable(jobs, specs, tm.seconds, locked_to, requests, day)
    matrix = Matrix(seconds=tm.seconds.round().astype("int64"), metres=tm.metres.round().astype("int64"))
    problem = Problem(
        crews=specs,
        jobs=jobs,
        matrix=matrix,
        settings=solver_settings or SolverSettings(time_limit_seconds=settings.ROUTING_TIME_LIMIT_SECONDS),
    )
    chains = {crew: [t for t in chain if t in requests] for crew, chain in locks.items() if crew in by_code}
    lonlat = {pid: (lon, lat) for pid, lon, lat in points}
    return BuiltProblem(
        day=day,
        department=department,
        skill_group=skill_group,
        reference=clock.reference,
        problem=problem,
        requests=requests,
        crews=by_code,
        due=due,
        held_back=held,
        points=[(pid, *lonlat[pid]) for pid in tm.point_ids],
        graph=graph,
        notes=notes,
        locks=chains,
    )


def _on_network(candidates: list[tuple[tuple, Any]], graph: Any, held: list) -> list[tuple[tuple, Any]]:
    """The candidates inside the network's extent; the others are held back (a city whose loaded networks cover
    part of it), so the day's batch is made of work the crews can reach."""
    if graph.approximate:  # a citywide network: every place is on it (snapping decides the rest)
        return candidates
    kept = []
    for key, r in candidates:
        if _in_box(graph.bbox, r.location.x, r.location.y):
            kept.append((key, r))
        else:
            held.append(_no_network(r.ticket, graph.name))
    return kept


def _in_box(box: tuple[float, float, float, float], lon: float, lat: float) -> bool:
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def _no_network(ticket: str, network: str) -> dict[str, str]:
    return {
        "ticket": ticket,
        "reason": DropReason.NO_NETWORK,
        "detail": f"no loaded street network covers this place (planned on {network}); "
        "load one that does with `manage.py load_streets`",
    }


def _hold_unroutable(
    unroutable: Sequence[Any], graph: Any, points: list[tuple[str, float, float]], held: list, notes: list[str]
) -> None:
    """Jobs off the network are held back with why: outside every loaded network (a city whose networks cover
    part of it), or too far from a street; a depot off it leaves its crew out, with a note."""
    where = {pid: (lon, lat) for pid, lon, lat in points}
    for bad in unroutable:
        kind, ident = bad.point_id.split(":", 1)
        if kind == "job" and not _in_box(graph.bbox, *where[bad.point_id]):
            held.append(_no_network(ident, graph.name))
        elif kind == "job":
            held.append({"ticket": ident, "reason": "too_far", "detail": f"not reachable by street: {bad.reason}"})
        else:
            notes.append(f"crew {ident}'s depot is not on the street network ({bad.reason}); crew left out")


def _rank_pool(
    department: Department,
    skill_group: str,
    crews: list[Crew],
    pins: dict[str, str],
    locks: Mapping[str, Sequence[str]],
    end_of_day: dt.datetime,
) -> tuple[list[tuple[tuple, ServiceRequest]], list[dict[str, str]]]:
    """The pool most urgent first (locked and pinned jobs ahead of all); jobs no crew on shift can do are held."""
    crew_skills = set().union(*[set(c.skills or []) for c in crews]) if crews else set()
    held: list[dict[str, str]] = []
    candidates: list[tuple[tuple, ServiceRequest]] = []
    for req in dispatch_pool(department, skill_group):
        st = req.service_type
        if st.required_skill and st.required_skill not in crew_skills and req.ticket not in pins:
            held.append(
                {
                    "ticket": req.ticket,
                    "reason": "no_crew_with_skill",
                    "detail": f"needs skill {st.required_skill!r}; no crew on shift has it",
                }
            )
            continue
        overdue = req.due_at is not None and req.due_at < end_of_day
        rank = urgency(st.priority, overdue=overdue, duplicates=req.reporters)
        locked = any(req.ticket in chain for chain in locks.values())
        key = (
            0 if locked or req.ticket in pins else 1,
            -rank,
            req.due_at or dt.datetime.max.replace(tzinfo=dt.UTC),
            req.requested_at,
        )
        candidates.append((key, req))
    candidates.sort(key=lambda kr: kr[0])
    return candidates, held


def _batch(
    candidates: list[tuple[tuple, ServiceRequest]],
    crews: list[Crew],
    shifts: dict[str, tuple[int, ...]],
    max_jobs: int,
    held: list[dict[str, str]],
) -> list[ServiceRequest]:
    """What the day's crews can do: shift minus breaks (times the overbook factor), each job its service time plus a
    travel allowance; the rest is held back with its rank."""
    travel_allowance = settings.ROUTING_TRAVEL_ALLOWANCE_MINUTES * 60
    budget = int(
        settings.ROUTING_OVERBOOK_FACTOR
        * sum(e - s - (c.break_minutes or 0) * 60 for c, (s, e) in zip(crews, shifts.values(), strict=True))
    )
    chosen: list[ServiceRequest] = []
    used = 0.0
    for rank, (_, req) in enumerate(candidates, start=1):
        cost = req.service_type.expected_minutes * 60 + travel_allowance
        if len(chosen) < max_jobs and used + cost <= budget:
            chosen.append(req)
            used += cost
        else:
            why = (
                f"not in today's batch: rank {rank} of {len(candidates)} by urgency; today's crews have about "
                f"{budget / 3600:.0f} crew-hours"
                if crews
                else "no crew works this day"
            )
            held.append({"ticket": req.ticket, "reason": "day_full" if crews else "no_crews", "detail": why})
    return chosen


def _crew_specs(
    crews: list[Crew], shifts: dict[str, tuple[int, ...]], index: dict[str, int], clock: _Clock
) -> tuple[list[CrewSpec], dict[str, Crew]]:
    """Crews whose depot is on the network, as the solver sees them (shift, break, skills, most jobs)."""
    specs: list[CrewSpec] = []
    by_code: dict[str, Crew] = {}
    for c in crews:
        if f"depot:{c.code}" not in index:
            continue
        s, e = shifts[c.code]
        breaks = []
        if c.break_minutes and c.break_earliest and c.break_latest:
            b0, b1 = clock.at(c.break_earliest), clock.at(c.break_latest)
            breaks = [Break(b0, max(b0, b1), c.break_minutes * 60)]
        specs.append(
            CrewSpec(
                id=c.code,
                start_index=index[f"depot:{c.code}"],
                shift_start=s,
                shift_end=e,
                skills=frozenset(c.skills or []),
                max_jobs=c.max_jobs,
                breaks=breaks,
            )
        )
        by_code[c.code] = c
    return specs, by_code


def _jobs(
    chosen: list[ServiceRequest],
    index: dict[str, int],
    clock: _Clock,
    now: dt.datetime,
    pins: dict[str, str],
    locked_to: dict[str, str],
    earliest: int,
    day_end: int,
) -> tuple[list[Job], dict[str, ServiceRequest], dict[str, int]]:
    """Jobs with windows (an appointment, else finish by a due-today SLA), priority and lateness."""
    jobs: list[Job] = []
    requests: dict[str, ServiceRequest] = {}
    due: dict[str, int] = {}
    for req in chosen:
        pid = f"job:{req.ticket}"
        if pid not in index:
            continue
        st = req.service_type
        service = st.expected_minutes * 60
        windows: list[TimeWindow] = []
        appointment = _appointment(req, clock.day)
        if appointment:
            windows = [TimeWindow(*(clock.at(t) for t in appointment))]
        lateness = 0.0
        if req.due_at is not None:
            due[req.ticket] = clock.sec(req.due_at)
            if req.due_at < now:
                lateness = (now - req.due_at).total_seconds() / 86400
            elif not windows and earliest + 1800 <= due[req.ticket] - service <= day_end:
                # Due today: start early enough to finish by the SLA (a job that cannot is still planned late).
                windows = [TimeWindow(0, due[req.ticket] - service)]
        pinned = locked_to.get(req.ticket) or pins.get(req.ticket)
        jobs.append(
            Job(
                id=req.ticket,
                location_index=index[pid],
                service_seconds=service,
                windows=windows,
                priority=urgency(st.priority, overdue=lateness > 0),
                required_skill=st.required_skill or None,
                pinned_crew=pinned,
                must_do=req.ticket in locked_to,
                lateness_days=lateness,
            )
        )
        requests[req.ticket] = req
    return jobs, requests, due


def _relax_unreachable(
    jobs: list[Job],
    specs: list[CrewSpec],
    seconds: Any,
    locked_to: dict[str, str],
    requests: dict[str, ServiceRequest],
    day: dt.date,
) -> list[Job]:
    """A due-today window that no crew can reach in time would drop the job: plan it late instead (appointments
    and locked jobs keep theirs)."""
    relaxed = []
    for job in jobs:
        if job.windows and job.id not in locked_to:
            reach = min((c.shift_start + int(seconds[c.start_index, job.location_index]) for c in specs), default=0)
            if all(w.end < reach for w in job.windows) and not _appointment(requests[job.id], day):
                job = dataclasses.replace(job, windows=())
        relaxed.append(job)
    return relaxed
