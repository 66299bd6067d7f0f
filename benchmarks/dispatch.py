"""Dispatch on the demo day: our plan vs dispatch by habit; plan time per department.

    python benchmarks/dispatch.py [--json] [--time-limit S] [--department CODE ...]

Needs the demo data (`make demo-data`: 311 replay + synthetic backlog, streets, crews from
fixtures/chicago/crews.toml). For each department with crews, today's problem is built exactly as
`plan_routes` builds it (the most urgent jobs that fit the day), then:
  (a) ours: the OR-Tools plan (routing.solver.solve) within --time-limit seconds;
  (b) habit (routing.evaluation.habit): crews assigned by ward (each ward to the crew of the right skill whose
      yard is nearest its centroid, crews sharing a yard split its wards by direction), each crew going
      next to the nearest open job of its skill in its wards until its shift is used up.
Same jobs, same crews, same matrix. Reported: drive minutes, jobs done, drive minutes per job, SLA misses
(jobs due before the end of the day not finished by their due time, done late or not done).
Plan time: build + solve + save of a draft (rolled back), per department. Goals: ≥ 25 % less drive
time and no more SLA misses than habit; plan time ≤ 60 s per department on 2 cores.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import sys
import time
from collections import defaultdict
from typing import Any

from _common import Result, parser, setup_django, versus

setup_django()

from django.db import transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from gis_app.due_dates import BusinessCalendar  # noqa: E402
from gis_app.models import Department  # noqa: E402
from layers.lookup import version_in_force  # noqa: E402
from layers.models import LayerKind, Ward  # noqa: E402
from routing import solver  # noqa: E402
from routing.evaluation.habit import habit_dispatch  # noqa: E402
from routing.models import Crew  # noqa: E402
from routing.planning import BuiltProblem, build_problem, save_plan  # noqa: E402
from routing.problem import Solution, SolverSettings  # noqa: E402


def ward_territories(built: BuiltProblem) -> dict[str, str]:
    """job id → crew id: each ward to the nearest yard among crews able to do the job, split by direction."""
    layer = version_in_force(LayerKind.WARDS, built.day)
    centroids = {w.number: (w.geom.centroid.x, w.geom.centroid.y) for w in Ward.objects.filter(layer_version=layer)}
    crews = built.problem.crews
    depots = {c.id: built.crews[c.id].depot.location for c in crews}
    territory: dict[str, str] = {}
    cache: dict[tuple[str | None, int | None], str] = {}
    for job in built.problem.jobs:
        req = built.requests[job.id]
        key = (job.required_skill, req.ward_number)
        if key not in cache:
            able = [c for c in crews if not job.required_skill or job.required_skill in c.skills]
            if not able:
                continue
            loc = req.location
            assert loc is not None  # dispatch_pool only returns located requests
            cx, cy = centroids.get(req.ward_number or -1, (loc.x, loc.y))

            def dist(c: Any, cx: float = cx, cy: float = cy) -> float:
                d = depots[c.id]
                return math.hypot((d.x - cx) * math.cos(math.radians(cy)), d.y - cy)

            nearest = min(able, key=dist)
            same_yard = sorted((c for c in able if depots[c.id].equals(depots[nearest.id])), key=lambda c: c.id)
            d = depots[nearest.id]
            sector = int(((math.degrees(math.atan2(cy - d.y, cx - d.x)) + 360) % 360) / (360 / len(same_yard)))
            cache[key] = same_yard[min(sector, len(same_yard) - 1)].id
        territory[job.id] = cache[key]
    return territory


def day_figures(built: BuiltProblem, solution: Solution) -> dict[str, float]:
    """SLA misses count jobs falling due during the day (not those already overdue when it starts)."""
    jobs = built.problem.jobs_by_id()
    start_of_day = min((c.shift_start for c in built.problem.crews), default=0)
    end_of_day = max((c.shift_end for c in built.problem.crews), default=0)
    finished = {v.job_id: v.start + jobs[v.job_id].service_seconds for r in solution.routes for v in r.visits}
    due_today = {j: d for j, d in built.due.items() if start_of_day <= d <= end_of_day and j in jobs}
    misses = sum(1 for j, d in due_today.items() if j not in finished or finished[j] > d)
    drive = sum(r.drive_seconds for r in solution.routes if r.visits) / 60
    done = len(finished)
    return {
        "drive_min": drive,
        "done": done,
        "drive_per_job": drive / done if done else float("nan"),
        "sla_misses": misses,
        "due_today": len(due_today),
    }


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument(
        "--time-limit",
        type=float,
        default=45.0,
        help="solver seconds per department (the product default, ROUTING_TIME_LIMIT_SECONDS)",
    )
    p.add_argument("--department", action="append", default=[])
    p.add_argument("--date", default=None, help="service day (default: the next city workday after today)")
    args = p.parse_args()
    if args.date:
        day = dt.date.fromisoformat(args.date)
    else:
        calendar = BusinessCalendar.from_settings()
        day = timezone.localdate() + dt.timedelta(days=1)
        while not calendar.is_business_day(day):
            day += dt.timedelta(days=1)
    depts = Department.objects.filter(crews__active=True).annotate(n=Count("crews")).order_by("code")
    if args.department:
        depts = depts.filter(code__in=args.department)
    if not depts:
        print("no crews loaded: run `make demo-data` (or `manage.py load_crews`) first")
        return 1
    result = Result("dispatch")
    totals: dict[str, dict[str, float]] = {"ours": defaultdict(float), "habit": defaultdict(float)}
    details: dict[str, Any] = {"day": day.isoformat(), "time_limit": args.time_limit, "departments": {}}
    plan_times = []
    for dept in depts:
        crews = Crew.objects.filter(department=dept, active=True).count()
        t0 = time.perf_counter()
        built = build_problem(
            day, dept, now=timezone.now(), solver_settings=SolverSettings(time_limit_seconds=args.time_limit)
        )
        t_build = time.perf_counter() - t0
        if not built.problem.jobs or not built.problem.crews:
            result.notes.append(
                f"{dept.code}: nothing to plan ({len(built.problem.jobs)} jobs, "
                f"{len(built.problem.crews)} crews on shift {day:%A})"
            )
            continue
        ours = solver.solve(built.problem)
        t_solve = time.perf_counter() - t0 - t_build
        t1 = time.perf_counter()
        with transaction.atomic():
            save_plan(built, ours)
            transaction.set_rollback(True)
        plan_seconds = time.perf_counter() - t0
        t_save = time.perf_counter() - t1
        habit = habit_dispatch(built.problem, ward_territories(built))
        a, b = day_figures(built, ours), day_figures(built, habit)
        # Same work: the optimizer routes exactly the jobs habit got done, with the same crews and matrix.
        habit_done = {v.job_id for r in habit.routes for v in r.visits}
        same = dataclasses.replace(built.problem, jobs=[j for j in built.problem.jobs if j.id in habit_done])
        same_sol = solver.solve(same)
        sw = sum(r.drive_seconds for r in same_sol.routes if r.visits) / 60
        totals["ours"]["same_work_drive"] += sw
        totals["ours"]["same_work_done"] += len(same_sol.assigned_job_ids)
        totals["habit"]["same_work_drive"] += b["drive_min"]
        for k in ("drive_min", "done", "sla_misses", "due_today"):
            totals["ours"][k] += a[k]
            totals["habit"][k] += b[k]
        plan_times.append(plan_seconds)
        details["departments"][dept.code] = {
            "crews": crews,
            "jobs_offered": len(built.problem.jobs),
            "held_back": len(built.held_back),
            "ours": a,
            "habit": b,
            "plan_seconds": round(plan_seconds, 1),
            "build_s": round(t_build, 1),
            "solve_s": round(t_solve, 1),
            "save_s": round(t_save, 1),
            "network": built.graph.name,
        }
        result.add(
            f"{dept.code}: drive minutes ({crews} crews, {len(built.problem.jobs)} jobs offered)",
            "min",
            a["drive_min"],
            b["drive_min"],
            "habit",
            better="lower",
        )
        result.add(
            f"{dept.code}: drive minutes for habit's {len(habit_done)} jobs (ours did "
            f"{len(same_sol.assigned_job_ids)})",
            "min",
            sw,
            b["drive_min"],
            "habit",
            better="lower",
        )
        result.add(f"{dept.code}: jobs done", "jobs", a["done"], b["done"], "habit")
        result.add(
            f"{dept.code}: SLA misses (of {a['due_today']} due today)",
            "jobs",
            a["sla_misses"],
            b["sla_misses"],
            "habit",
            better="lower",
        )
        result.add(
            f"{dept.code}: plan time (build {t_build:.1f} + solve {t_solve:.1f} + save {t_save:.1f})",
            "s",
            plan_seconds,
            60.0,
            "goal",
            better="lower",
        )
    o, h = totals["ours"], totals["habit"]
    result.add("all: drive minutes, full day", "min", o["drive_min"], h["drive_min"], "habit", better="lower")
    result.add(
        f"all: drive minutes for the same work ({int(o['same_work_done'])} jobs)",
        "min",
        o["same_work_drive"],
        h["same_work_drive"],
        "habit",
        better="lower",
    )
    result.add("all: jobs done", "jobs", o["done"], h["done"], "habit")
    result.add(
        "all: drive minutes per job done",
        "min/job",
        o["drive_min"] / max(1, o["done"]),
        h["drive_min"] / max(1, h["done"]),
        "habit",
        better="lower",
    )
    result.add("all: SLA misses", "jobs", o["sla_misses"], h["sla_misses"], "habit", better="lower")
    result.add("max plan time per department", "s", max(plan_times, default=0), 60.0, "goal", better="lower")
    if h["drive_min"]:
        same_work = versus(o["same_work_drive"], h["same_work_drive"], "habit")
        per_job = versus(o["drive_min"] / max(1, o["done"]), h["drive_min"] / max(1, h["done"]), "habit")
        result.notes.append(
            f"same work ({int(o['same_work_done'])} jobs, the ones habit did): drive time {same_work} (goal: 25 % "
            f"below or more); per job done over the full day ({int(o['done'])} jobs ours, {int(h['done'])} "
            f"habit's): drive per job {per_job}"
        )
    result.notes.append(f"day {day} ({day:%A}); solver limit {args.time_limit:.0f} s per department; 2 cores")
    result.details = details
    result.print(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
