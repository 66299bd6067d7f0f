"""Dispatch: a department's open work and crews become a routing problem, a solved plan, published routes.

`build_problem` turns rows into the optimizer's Django-free dataclasses (one job per duplicate group,
service minutes from the type, windows from appointments and SLA due dates, priority from type and
overdue-ness, crews on shift with their depots, travel times from the street network) and decides which
jobs fit the day: most urgent first up to what the day's crews can do, the rest stay open with a reason.
`plan_day` solves (or re-plans from the crews' current state when a plan is already out) and saves a
draft; `publish` makes a draft the day's plan, assigns its requests through the transitions module and
records, per crew, what changed. Publishing is serialised per department row, and a draft whose base is
no longer the published plan is refused: two dispatchers cannot overwrite each other's day.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.geos import LineString
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from gis_app.choices import Status
from gis_app.models import Department, Holiday, ServiceRequest
from gis_app.transitions import TransitionError, apply
from routing import solver
from routing.matrix import route_geometry, travel_matrix
from routing.models import STOP_DONE, STOP_UNDER_WAY, Crew, PlanStatus, Route, RoutePlan, Stop, StopStatus
from routing.network import NetworkError, StreetGraph
from routing.problem import Break, CrewState, Job, Matrix, Problem, Solution, SolverSettings, TimeWindow
from routing.problem import Crew as CrewSpec
from routing.streets import street_graph_for

DISPATCHABLE = (Status.RECEIVED, Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS)


class PlanningError(ValueError):
    """The day cannot be planned as asked; the message says what is missing."""


class PlanConflict(PlanningError):
    """Someone else published this day's plan since this draft was made."""


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
    """Open issues of the department a crew can go to: located, not duplicates, not on hold."""
    qs = (ServiceRequest.objects.filter(department=department, status__in=DISPATCHABLE, parent__isnull=True,
                                        location__isnull=False, service_type__location_required=True)
          .select_related("service_type").annotate(reporters=Count("duplicates")))
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
        notes.append(f"no {department.name} crew{' with skill ' + skill_group if skill_group else ''} "
                     f"works on {day:%A %Y-%m-%d}")
    return crews, notes


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
    """The day's routing problem for one department (or one skill group of it)."""
    now = now or timezone.now()
    reference = _local_midnight(day)
    crews, notes = crews_for(day, department, skill_group)
    pins = dict(pins or {})
    locks = {k: list(v) for k, v in (locks or {}).items()}
    max_jobs = max_jobs or settings.ROUTING_MAX_JOBS_PER_PLAN
    travel_allowance = settings.ROUTING_TRAVEL_ALLOWANCE_MINUTES * 60

    def sec(when: dt.datetime) -> int:
        return int((when - reference).total_seconds())

    shifts = {c.code: tuple(sec(t) for t in c.shift_on(day)) for c in crews}
    day_start = min((s for s, _ in shifts.values()), default=sec(reference + dt.timedelta(hours=8)))
    day_end = max((e for _, e in shifts.values()), default=sec(reference + dt.timedelta(hours=17)))
    crew_skills = set().union(*[set(c.skills or []) for c in crews]) if crews else set()

    held: list[dict[str, str]] = []
    candidates: list[tuple[tuple, ServiceRequest]] = []
    end_of_day = reference + dt.timedelta(seconds=day_end)
    for req in dispatch_pool(department, skill_group):
        st = req.service_type
        if st.required_skill and st.required_skill not in crew_skills and req.ticket not in pins:
            held.append({"ticket": req.ticket, "reason": "no_crew_with_skill",
                         "detail": f"needs skill {st.required_skill!r}; no crew on shift has it"})
            continue
        overdue = req.due_at is not None and req.due_at < end_of_day
        urgency = min(5, st.priority + (1 if overdue else 0) + (1 if req.reporters >= 2 else 0))
        locked = any(req.ticket in chain for chain in locks.values())
        key = (0 if locked or req.ticket in pins else 1, -urgency,
               req.due_at or dt.datetime.max.replace(tzinfo=dt.UTC), req.requested_at)
        candidates.append((key, req))
    candidates.sort(key=lambda kr: kr[0])

    # What the day's crews can do: shift minus breaks, each job its service time plus a travel allowance.
    budget = int(settings.ROUTING_OVERBOOK_FACTOR * sum(
        e - s - (c.break_minutes or 0) * 60 for c, (s, e) in zip(crews, shifts.values(), strict=True)))
    chosen: list[ServiceRequest] = []
    used = 0.0
    for rank, (_, req) in enumerate(candidates, start=1):
        cost = req.service_type.expected_minutes * 60 + travel_allowance
        if len(chosen) < max_jobs and used + cost <= budget:
            chosen.append(req)
            used += cost
        else:
            why = (f"not in today's batch: rank {rank} of {len(candidates)} by urgency; today's crews have about "
                   f"{budget / 3600:.0f} crew-hours" if crews else "no crew works this day")
            held.append({"ticket": req.ticket, "reason": "day_full" if crews else "no_crews", "detail": why})

    points = [(f"depot:{c.code}", c.depot.location.x, c.depot.location.y) for c in crews]
    points += [(f"job:{r.ticket}", r.location.x, r.location.y) for r in chosen if r.location is not None]
    if not points:
        raise PlanningError(f"nothing to plan for {department.name} on {day}: no crews and no open work")
    try:
        graph = street_graph_for([(lon, lat) for _, lon, lat in points])
    except NetworkError as exc:
        raise PlanningError(str(exc)) from exc
    tm = travel_matrix(graph, points)
    index = {pid: i for i, pid in enumerate(tm.point_ids)}
    for bad in tm.unroutable:
        kind, ident = bad.point_id.split(":", 1)
        if kind == "job":
            held.append({"ticket": ident, "reason": "too_far", "detail": f"not reachable by street: {bad.reason}"})
        else:
            notes.append(f"crew {ident}'s depot is not on the street network ({bad.reason}); crew left out")

    specs: list[CrewSpec] = []
    by_code: dict[str, Crew] = {}
    for c in crews:
        if f"depot:{c.code}" not in index:
            continue
        s, e = shifts[c.code]
        breaks = []
        if c.break_minutes and c.break_earliest and c.break_latest:
            b0 = sec(dt.datetime.combine(day, c.break_earliest, tzinfo=reference.tzinfo))
            b1 = sec(dt.datetime.combine(day, c.break_latest, tzinfo=reference.tzinfo))
            breaks = [Break(b0, max(b0, b1), c.break_minutes * 60)]
        specs.append(CrewSpec(id=c.code, start_index=index[f"depot:{c.code}"], shift_start=s, shift_end=e,
                              skills=frozenset(c.skills or []), max_jobs=c.max_jobs, breaks=breaks))
        by_code[c.code] = c

    jobs: list[Job] = []
    requests: dict[str, ServiceRequest] = {}
    due: dict[str, int] = {}
    locked_to = {t: crew for crew, chain in locks.items() for t in chain}
    earliest = min((c.shift_start for c in specs), default=day_start)
    for req in chosen:
        pid = f"job:{req.ticket}"
        if pid not in index:
            continue
        st = req.service_type
        service = st.expected_minutes * 60
        windows: list[TimeWindow] = []
        appointment = _appointment(req, day)
        if appointment:
            a, b = (sec(dt.datetime.combine(day, t, tzinfo=reference.tzinfo)) for t in appointment)
            windows = [TimeWindow(a, b)]
        lateness = 0.0
        if req.due_at is not None:
            due[req.ticket] = sec(req.due_at)
            if req.due_at < now:
                lateness = (now - req.due_at).total_seconds() / 86400
            elif not windows and earliest + 1800 <= due[req.ticket] - service <= day_end:
                # Due today: start early enough to finish by the SLA (a job that cannot is still planned late).
                windows = [TimeWindow(0, due[req.ticket] - service)]
        priority = min(5, st.priority + (1 if lateness > 0 else 0))
        pinned = locked_to.get(req.ticket) or pins.get(req.ticket)
        jobs.append(Job(id=req.ticket, location_index=index[pid], service_seconds=service, windows=windows,
                        priority=priority, required_skill=st.required_skill or None, pinned_crew=pinned,
                        must_do=req.ticket in locked_to, lateness_days=lateness))
        requests[req.ticket] = req

    # A due-today window that no crew can reach in time would drop the job: plan it late instead.
    relaxed = []
    for job in jobs:
        if job.windows and job.id not in {t for t in locked_to}:
            reach = min((c.shift_start + int(tm.seconds[c.start_index, job.location_index]) for c in specs),
                        default=0)
            if all(w.end < reach for w in job.windows) and not _appointment(requests[job.id], day):
                job = dataclasses.replace(job, windows=())
        relaxed.append(job)
    matrix = Matrix(seconds=tm.seconds.round().astype("int64"), metres=tm.metres.round().astype("int64"))
    problem = Problem(crews=specs, jobs=relaxed, matrix=matrix, settings=solver_settings or SolverSettings(
        time_limit_seconds=settings.ROUTING_TIME_LIMIT_SECONDS))
    chains = {crew: [t for t in chain if t in requests] for crew, chain in locks.items() if crew in by_code}
    lonlat = {pid: (lon, lat) for pid, lon, lat in points}
    return BuiltProblem(day=day, department=department, skill_group=skill_group, reference=reference,
                        problem=problem, requests=requests, crews=by_code, due=due, held_back=held,
                        points=[(pid, *lonlat[pid]) for pid in tm.point_ids], graph=graph,
                        notes=notes, locks=chains)


def current_plan(day: dt.date, department: Department, skill_group: str = "") -> RoutePlan | None:
    return (RoutePlan.objects.filter(service_date=day, department=department, skill_group=skill_group,
                                     status=PlanStatus.PUBLISHED).first())


def crew_states(built: BuiltProblem, plan: RoutePlan, now: dt.datetime) -> tuple[list[CrewState], set[str], set[str]]:
    """Where each crew of a published plan is now: after its last finished or started stop."""
    states: list[CrewState] = []
    done: set[str] = set()
    under_way: set[str] = set()
    index = {pid: i for i, (pid, _, _) in enumerate(built.points)}
    now_s = built.seconds(now)
    for route in plan.routes.select_related("crew").prefetch_related("stops__request"):
        code = route.crew.code
        if code not in built.crews:
            continue
        stops = list(route.stops.all())
        position = index[f"depot:{code}"]
        available = now_s
        for stop in stops:
            pid = f"job:{stop.request.ticket}"
            if stop.status in STOP_DONE:
                done.add(stop.request.ticket)
            elif stop.status in STOP_UNDER_WAY:
                under_way.add(stop.request.ticket)
                available = max(available, now_s + stop.service_minutes * 60)
            else:
                continue
            # A finished stop is no longer open work, so it may have no matrix row: then keep the last known one.
            position = index.get(pid, position)
        locked = [s.request.ticket for s in stops if s.locked and s.status == StopStatus.PLANNED]
        states.append(CrewState(crew_id=code, position_index=position, available_from=available,
                                locked_job_ids=locked + built.locks.get(code, [])))
    return states, done, under_way


@dataclass
class PlanReport:
    plan: RoutePlan
    solution: Solution
    built: BuiltProblem
    replanned: bool = False
    published: bool = False

    def lines(self) -> list[str]:
        s = self.plan.stats
        out = [f"plan #{self.plan.pk} for {self.plan.department.name} on {self.plan.service_date} "
               f"({'re-plan' if self.replanned else 'fresh plan'}, {self.plan.status}): "
               f"{s['jobs_planned']} jobs on {s['crews_used']}/{s['crews']} crews, drive {s['drive_minutes']} min, "
               f"{s['distance_km']} km, {len(self.plan.dropped)} left open, solved in {s['solve_seconds']} s "
               f"on {self.plan.network.get('name', '?')}"]
        out += [f"note: {n}" for n in self.built.notes]
        return out


def plan_day(
    day: dt.date,
    department: Department,
    *,
    skill_group: str = "",
    time_limit: float | None = None,
    by: Any = None,
    publish: bool = False,
    now: dt.datetime | None = None,
    pins: Mapping[str, str] | None = None,
    locks: Mapping[str, Sequence[str]] | None = None,
    progress: Callable[[str], None] | None = None,
) -> PlanReport:
    """Build, solve and save a draft plan for the day (re-planning from the crews' state when a plan is out)."""
    now = now or timezone.now()
    say = progress or (lambda _msg: None)
    settings_ = SolverSettings(time_limit_seconds=time_limit or settings.ROUTING_TIME_LIMIT_SECONDS)
    say("building the problem")
    built = build_problem(day, department, skill_group=skill_group, now=now, pins=pins, locks=locks,
                          solver_settings=settings_)
    base = current_plan(day, department, skill_group)
    replanned = False
    say(f"solving {len(built.problem.jobs)} jobs for {len(built.problem.crews)} crews")
    if base is not None and built.reference <= now < built.reference + dt.timedelta(days=1):
        states, done, under_way = crew_states(built, base, now)
        solution = solver.replan(built.problem, states, done_job_ids=done, in_progress_job_ids=under_way)
        replanned = True
    else:
        solution = solver.solve(built.problem, locks=built.locks)
    say("saving the draft")
    plan = save_plan(built, solution, by=by, based_on=base, pins=pins, locks=locks)
    report = PlanReport(plan=plan, solution=solution, built=built, replanned=replanned)
    if publish:
        say("publishing")
        report.plan = publish_plan(plan, by=by)
        report.published = True
    return report


def plan_totals(built: BuiltProblem, solution: Solution) -> dict[str, Any]:
    """The figures a dispatcher compares plans by."""
    drive = sum(r.drive_seconds for r in solution.routes)
    jobs = built.problem.jobs_by_id()
    # SLA misses count jobs falling due during the day (late or left out); ones already overdue when the day
    # starts are counted apart: no plan can save them.
    start = min((c.shift_start for c in built.problem.crews), default=0)
    end = max((c.shift_end for c in built.problem.crews), default=0)
    due_today = {j: d for j, d in built.due.items() if j in jobs and start <= d <= end}
    finished = {v.job_id: v.start + jobs[v.job_id].service_seconds for r in solution.routes for v in r.visits}
    late = [j for j, d in due_today.items() if j in finished and finished[j] > d]
    missed = [j for j in due_today if j not in finished]
    return {
        "crews": len(built.problem.crews),
        "crews_used": sum(1 for r in solution.routes if r.visits),
        "jobs_offered": len(built.problem.jobs),
        "jobs_planned": sum(len(r.visits) for r in solution.routes),
        "drive_minutes": round(drive / 60, 1),
        "distance_km": round(sum(r.distance_metres for r in solution.routes) / 1000, 1),
        "service_minutes": round(sum(r.service_seconds for r in solution.routes) / 60, 1),
        "sla_misses": len(late) + len(missed),
        "due_today": len(due_today),
        "already_overdue": sum(1 for j, d in built.due.items() if j in jobs and d < start),
        "held_back": len(built.held_back),
        "solve_seconds": round(solution.wall_seconds, 2),
        "status": solution.status,
    }


@transaction.atomic
def save_plan(built: BuiltProblem, solution: Solution, *, by: Any = None, based_on: RoutePlan | None = None,
              pins: Mapping[str, str] | None = None, locks: Mapping[str, Sequence[str]] | None = None) -> RoutePlan:
    """Persist a solution as a draft plan: one route per crew with its street geometry, one stop per job.

    Stops a crew already finished or started under the plan this one replaces are carried over first,
    with their status, so the field keeps its history.
    """
    dropped = [{**h, "stage": "batch"} for h in built.held_back] + [
        {"ticket": d.job_id, "reason": str(d.reason), "detail": d.detail, "stage": "solver"}
        for d in solution.dropped]
    plan = RoutePlan.objects.create(
        service_date=built.day, department=built.department, skill_group=built.skill_group,
        based_on=based_on, created_by=by if getattr(by, "pk", None) else None,
        settings={k: v for k, v in dataclasses.asdict(built.problem.settings).items()
                  if isinstance(v, int | float | str | bool)},
        stats=plan_totals(built, solution), network=built.graph.describe(), dropped=dropped,
        pins=dict(pins or {}), locks={k: list(v) for k, v in (locks or {}).items()})
    carried: dict[str, list[Stop]] = {}
    if based_on is not None:
        for stop in (Stop.objects.filter(route__plan=based_on)
                     .exclude(status=StopStatus.PLANNED).select_related("route__crew", "request")
                     .order_by("route", "sequence")):
            carried.setdefault(stop.route.crew.code, []).append(stop)
    coords = {pid: (lon, lat) for pid, lon, lat in built.points}
    routes = {r.crew_id: r for r in solution.routes}
    jobs = built.problem.jobs_by_id()
    for code, crew in built.crews.items():
        r = routes.get(code)  # None: no work for this crew (it still gets an empty route: "nothing today")
        old = carried.get(code, [])
        start, end = crew.shift_on(built.day)
        route = Route.objects.create(
            plan=plan, crew=crew,
            starts_at=built.at(r.start_time) if r else start, ends_at=built.at(r.end_time) if r else end,
            drive_seconds=r.drive_seconds if r else 0, distance_m=r.distance_metres if r else 0,
            service_seconds=r.service_seconds if r else 0,
            breaks=[{"start": built.at(s).isoformat(), "minutes": d // 60} for s, d in (r.breaks if r else [])])
        seq = 0
        rows: list[Stop] = []
        for stop in old:
            seq += 1
            rows.append(Stop(route=route, sequence=seq, request=stop.request, eta=stop.eta,
                             window_start=stop.window_start, window_end=stop.window_end,
                             service_minutes=stop.service_minutes, status=stop.status, status_at=stop.status_at,
                             locked=stop.locked, flags=stop.flags))
        locked_now = set((locks or {}).get(code, []))
        for v in (r.visits if r else []):
            seq += 1
            job = jobs[v.job_id]
            w = job.windows[0] if job.windows else None
            rows.append(Stop(route=route, sequence=seq, request=built.requests[v.job_id], eta=built.at(v.arrival),
                             window_start=built.at(w.start) if w else None, window_end=built.at(w.end) if w else None,
                             service_minutes=job.service_seconds // 60, locked=v.job_id in locked_now))
        Stop.objects.bulk_create(rows)
        if r is not None and r.visits:
            path = ([(f"depot:{code}", *coords[f"depot:{code}"])]
                    + [(f"job:{v.job_id}", *coords[f"job:{v.job_id}"]) for v in r.visits]
                    + [(f"depot:{code}", *coords[f"depot:{code}"])])
            try:
                line = route_geometry(built.graph, path)
            except ValueError:
                line = [(lon, lat) for _, lon, lat in path]
            if len(line) >= 2:
                route.geometry = LineString(line, srid=4326)
                route.save(update_fields=["geometry"])
    return plan


def _route_changes(old: Route | None, new: Route) -> dict[str, Any]:
    new_seq = [s.request.ticket for s in new.stops.all()]
    if old is None:
        return {"first_version": True, "added": new_seq, "removed": [], "reordered": False,
                "removed_after_start": []}
    old_stops = list(old.stops.all())
    old_seq = [s.request.ticket for s in old_stops]
    removed = [t for t in old_seq if t not in new_seq]
    kept_old = [t for t in old_seq if t in new_seq]
    kept_new = [t for t in new_seq if t in old_seq]
    return {
        "first_version": False,
        "added": [t for t in new_seq if t not in old_seq],
        "removed": removed,
        "reordered": kept_old != kept_new,
        "removed_after_start": [s.request.ticket for s in old_stops
                                if s.request.ticket in removed and s.status in STOP_UNDER_WAY],
    }


@transaction.atomic
def publish_plan(plan: RoutePlan, *, by: Any = None) -> RoutePlan:
    """Make `plan` the day's plan: supersede the previous one, assign its requests, record route changes.

    Serialised on the department row; refused (PlanConflict) when the day's published plan is no longer
    the one this draft was built from, or when the draft is not a draft any more.
    """
    Department.objects.select_for_update().get(pk=plan.department_id)
    plan = RoutePlan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != PlanStatus.DRAFT:
        raise PlanConflict(f"plan #{plan.pk} is {plan.status}, not a draft; only a draft can be published")
    current = current_plan(plan.service_date, plan.department, plan.skill_group)
    if current is not None and current.pk != plan.based_on_id:
        who = current.published_by or "another dispatcher"
        raise PlanConflict(
            f"plan #{current.pk} for {plan.service_date} was published by {who} at "
            f"{timezone.localtime(current.published_at):%H:%M:%S} after this draft was made from "
            f"{'plan #' + str(plan.based_on_id) if plan.based_on_id else 'no plan'}; re-run from the current plan")
    old_routes: dict[int, Route] = {}
    if current is not None:
        old_routes = {r.crew_id: r for r in current.routes.prefetch_related("stops__request")}
        current.status = PlanStatus.SUPERSEDED
        current.save(update_fields=["status"])
    plan.status = PlanStatus.PUBLISHED
    plan.published_at = timezone.now()
    plan.published_by = by if getattr(by, "pk", None) else None
    plan.save(update_fields=["status", "published_at", "published_by"])
    label = f"dispatch plan #{plan.pk}"
    in_plan: set[int] = set()
    flagged: list[str] = []
    for route in plan.routes.select_related("crew").prefetch_related("stops__request"):
        old = old_routes.pop(route.crew_id, None)
        route.version = (old.version + 1) if old else 1
        route.changes = _route_changes(old, route)
        route.save(update_fields=["version", "changes"])
        flagged += route.changes["removed_after_start"]
        for stop in route.stops.all():
            in_plan.add(stop.request_id)
            req = stop.request
            if req.status in (Status.RECEIVED,):
                req = apply(req, "open", by=by, actor_label=label, note="opened for dispatch")
            if req.status in (Status.OPEN,):
                apply(req, "assign", by=by, actor_label=label,
                      note=f"{route.crew.name}, stop {stop.sequence}, ETA {timezone.localtime(stop.eta):%H:%M}")
    for route in old_routes.values():  # crews dropped from the day entirely
        flagged += [s.request.ticket for s in route.stops.all() if s.status in STOP_UNDER_WAY]
    if current is not None:
        for stop in Stop.objects.filter(route__plan=current).select_related("request"):
            req = stop.request
            if stop.request_id not in in_plan and req.status == Status.ASSIGNED:
                with contextlib.suppress(TransitionError):
                    apply(req, "unassign", by=by, actor_label=label, note="not in the new plan; back in the pool")
    if flagged:
        stats = dict(plan.stats)
        stats["removed_after_start"] = sorted(set(flagged))
        plan.stats = stats
        plan.save(update_fields=["stats"])
    return plan
