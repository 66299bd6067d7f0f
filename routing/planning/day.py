"""Planning a day end to end: build, solve (or re-plan from the crews' state), save, optionally publish."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from gis_app.models import Department
from routing import solver
from routing.models import STOP_DONE, STOP_UNDER_WAY, PlanRun, RoutePlan, StopStatus
from routing.planning.build import BuiltProblem, PlanningError, build_problem
from routing.planning.publish import publish_plan
from routing.planning.save import current_plan, save_plan
from routing.problem import CrewState, Solution, SolverSettings

log = logging.getLogger(__name__)


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
        states.append(
            CrewState(
                crew_id=code,
                position_index=position,
                available_from=available,
                locked_job_ids=locked + built.locks.get(code, []),
            )
        )
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
        out = [
            f"plan #{self.plan.pk} for {self.plan.department.name} on {self.plan.service_date} "
            f"({'re-plan' if self.replanned else 'fresh plan'}, {self.plan.status}): "
            f"{s['jobs_planned']} jobs on {s['crews_used']}/{s['crews']} crews, drive {s['drive_minutes']} min, "
            f"{s['distance_km']} km, {len(self.plan.dropped)} left open, solved in {s['solve_seconds']} s "
            f"on {self.plan.network.get('name', '?')}"
        ]
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
    built = build_problem(
        day, department, skill_group=skill_group, now=now, pins=pins, locks=locks, solver_settings=settings_
    )
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


@shared_task(name="gis311.plan_routes")
def plan_routes(
    day: str,
    department_code: str,
    *,
    skill_group: str = "",
    time_limit: float | None = None,
    user_id: int | None = None,
    pins: dict[str, str] | None = None,
    locks: dict[str, list[str]] | None = None,
    run_id: int | None = None,
) -> int | None:
    """The dispatcher page's background job (a solve takes tens of seconds): plan a day as a draft; returns the
    draft plan's id. With a PlanRun, its state says how the run ended, a failure with its reason in words."""
    run = PlanRun.objects.filter(pk=run_id).first() if run_id else None
    if run is not None:
        PlanRun.objects.filter(pk=run.pk).update(state=PlanRun.State.RUNNING)
    user: Any = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        report = plan_day(
            dt.date.fromisoformat(day),
            Department.objects.get(code=department_code),
            skill_group=skill_group,
            time_limit=time_limit,
            by=user,
            pins=pins,
            locks=locks,
        )
    except PlanningError as exc:
        _finish(run, PlanRun.State.FAILED, detail=str(exc))
        return None
    except Exception as exc:
        # The page must not wait forever for a plan that will not come; the traceback goes to the worker log.
        log.exception("planning %s for %s failed", day, department_code)
        _finish(run, PlanRun.State.FAILED, detail=f"the planner stopped with an error ({type(exc).__name__}: {exc})")
        if run is None:
            raise
        return None
    _finish(run, PlanRun.State.DONE, plan=report.plan)
    return report.plan.pk


def _finish(run: PlanRun | None, state: str, *, detail: str = "", plan: RoutePlan | None = None) -> None:
    if run is not None:
        PlanRun.objects.filter(pk=run.pk).update(
            state=state, detail=detail[:2000], plan=plan, finished_at=timezone.now()
        )
