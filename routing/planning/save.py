"""Saving a solved plan as a draft: RoutePlan, Routes along the streets, Stops with ETAs, and its totals."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.gis.geos import LineString
from django.db import transaction

from gis_app.models import Department
from layers.geocoding.reverse import reverse_many
from routing.matrix import route_geometry
from routing.models import PlanStatus, Route, RoutePlan, Stop, StopStatus
from routing.planning.build import BuiltProblem
from routing.problem import Solution, SolvedRoute


def current_plan(day: dt.date, department: Department, skill_group: str = "") -> RoutePlan | None:
    return RoutePlan.objects.filter(
        service_date=day, department=department, skill_group=skill_group, status=PlanStatus.PUBLISHED
    ).first()


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
def save_plan(
    built: BuiltProblem,
    solution: Solution,
    *,
    by: Any = None,
    based_on: RoutePlan | None = None,
    pins: Mapping[str, str] | None = None,
    locks: Mapping[str, Sequence[str]] | None = None,
) -> RoutePlan:
    """Persist a solution as a draft plan: one route per crew with its street geometry, one stop per job.

    Stops a crew already finished or started under the plan this one replaces are carried over first,
    with their status, so the field keeps its history.
    """
    dropped = [{**h, "stage": "batch"} for h in built.held_back] + [
        {"ticket": d.job_id, "reason": str(d.reason), "detail": d.detail, "stage": "solver"} for d in solution.dropped
    ]
    plan = RoutePlan.objects.create(
        service_date=built.day,
        department=built.department,
        skill_group=built.skill_group,
        based_on=based_on,
        created_by=by if getattr(by, "pk", None) else None,
        settings={
            k: v
            for k, v in dataclasses.asdict(built.problem.settings).items()
            if isinstance(v, int | float | str | bool)
        },
        stats=plan_totals(built, solution),
        network=built.graph.describe(),
        dropped=dropped,
        pins=dict(pins or {}),
        locks={k: list(v) for k, v in (locks or {}).items()},
    )
    carried = _carried_stops(based_on)
    routes = {r.crew_id: r for r in solution.routes}
    for code, crew in built.crews.items():
        _save_route(built, plan, crew, routes.get(code), carried.get(code, []), set((locks or {}).get(code, [])))
    _fill_nearest_addresses(plan)
    return plan


def _fill_nearest_addresses(plan: RoutePlan) -> None:
    """Stops whose request has no address get the nearest one the layers give (one set-based reverse look-up
    per plan; stops carried from the plan it replaces keep theirs), so a crew always has a street to drive to,
    and a route pull costs no look-ups."""
    stops = list(
        Stop.objects.filter(
            route__plan=plan, nearest_address="", request__address="", request__location__isnull=False
        ).select_related("request")
    )
    places = [(s.request.location.x, s.request.location.y) for s in stops if s.request.location is not None]
    if not places:
        return
    for stop, found in zip(stops, reverse_many(places), strict=True):
        street = found.get("street") or ""
        stop.nearest_address = (
            found.get("address") or found.get("intersection") or (f"on {street}" if street else "")
        )[:300]
    Stop.objects.bulk_update(stops, ["nearest_address"])


def _carried_stops(based_on: RoutePlan | None) -> dict[str, list[Stop]]:
    """Stops already under way or done in the plan being replaced, per crew code, in their order."""
    carried: dict[str, list[Stop]] = {}
    if based_on is not None:
        for stop in (
            Stop.objects.filter(route__plan=based_on)
            .exclude(status=StopStatus.PLANNED)
            .select_related("route__crew", "request")
            .order_by("route", "sequence")
        ):
            carried.setdefault(stop.route.crew.code, []).append(stop)
    return carried


def _save_route(
    built: BuiltProblem, plan: RoutePlan, crew: Any, r: SolvedRoute | None, old: list[Stop], locked_now: set[str]
) -> None:
    """One crew's route (an empty one when it has no work: "nothing today"), its stops and street geometry."""
    start, end = crew.shift_on(built.day)
    route = Route.objects.create(
        plan=plan,
        crew=crew,
        starts_at=built.at(r.start_time) if r else start,
        ends_at=built.at(r.end_time) if r else end,
        drive_seconds=r.drive_seconds if r else 0,
        distance_m=r.distance_metres if r else 0,
        service_seconds=r.service_seconds if r else 0,
        breaks=[{"start": built.at(s).isoformat(), "minutes": d // 60} for s, d in (r.breaks if r else [])],
    )
    carried_fields = (
        "request",
        "eta",
        "window_start",
        "window_end",
        "service_minutes",
        "status",
        "status_at",
        "nearest_address",
    )
    rows = [
        Stop(
            route=route,
            sequence=seq,
            locked=stop.locked,
            flags=stop.flags,
            **{f: getattr(stop, f) for f in carried_fields},
        )
        for seq, stop in enumerate(old, start=1)
    ]
    jobs = built.problem.jobs_by_id()
    for v in r.visits if r else []:
        job = jobs[v.job_id]
        w = job.windows[0] if job.windows else None
        rows.append(
            Stop(
                route=route,
                sequence=len(rows) + 1,
                request=built.requests[v.job_id],
                eta=built.at(v.arrival),
                window_start=built.at(w.start) if w else None,
                window_end=built.at(w.end) if w else None,
                service_minutes=job.service_seconds // 60,
                locked=v.job_id in locked_now,
            )
        )
    Stop.objects.bulk_create(rows)
    if r is not None and r.visits:
        _draw_route(built, route, r)


def _draw_route(built: BuiltProblem, route: Route, r: SolvedRoute) -> None:
    """The route's line along the streets (straight legs where the graph has no path)."""
    coords = {pid: (lon, lat) for pid, lon, lat in built.points}
    code = r.crew_id
    path = (
        [(f"depot:{code}", *coords[f"depot:{code}"])]
        + [(f"job:{v.job_id}", *coords[f"job:{v.job_id}"]) for v in r.visits]
        + [(f"depot:{code}", *coords[f"depot:{code}"])]
    )
    try:
        line = route_geometry(built.graph, path)
    except ValueError:
        line = [(lon, lat) for _, lon, lat in path]
    if len(line) >= 2:
        route.geometry = LineString(line, srid=4326)
        route.save(update_fields=["geometry"])
