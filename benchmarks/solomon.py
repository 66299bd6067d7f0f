"""Solomon VRPTW: our OR-Tools solver vs VROOM (pyvroom) with the same time budget, in the same process.

    python benchmarks/solomon.py [--instances C101,R101,…] [--time-limit S] [--no-peer] [--json]

Distances are recomputed in double precision from the returned routes (never taken from a solver's
objective) and every route set is re-checked for feasibility. The gap is to the distance-only
best-known value; R109 and RC103's distance-only values are suspect (see data/solomon/README.md) and
are left out of the mean gap. Both solvers get one thread.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from _common import ROOT, Result, parser

DATA = Path(__file__).resolve().parent / "data" / "solomon"
SUSPECT = {"R109", "RC103"}
# The search settings (routing.problem.SolverSettings defaults) were tuned on these 10 instances only, at
# 2 s; the other 46 are held out and reported on their own so the figure is not fitted to its rows.
TUNING = {"C103", "C104", "R101", "R105", "R109", "RC101", "RC105", "R201", "RC201", "C204"}
GOAL = "goal: mean gap ≤ 1.0 % at 10 s and ≤ 3 % at 1 s, ahead of VROOM; floor: 56/56 feasible, ≤ 3 % at 10 s"


def run_ours(inst, time_limit: float) -> tuple[list[list[int]], float]:
    from routing.evaluation.solomon import to_problem
    from routing.problem import SolverSettings
    from routing.solver import solve

    t0 = time.perf_counter()
    sol = solve(to_problem(inst, SolverSettings(time_limit_seconds=time_limit)))
    routes = [[int(j) for j in r.job_ids] for r in sol.routes]
    return routes, time.perf_counter() - t0


def run_vroom(inst, time_limit: float) -> tuple[list[list[int]], float]:
    import vroom

    from routing.evaluation.solomon import SCALE

    dist = inst.distances()
    durations = np.ceil(dist * SCALE - 1e-9).astype(np.uint32)
    problem = vroom.Input()
    problem.set_durations_matrix(profile="car", matrix_input=durations)
    for k in range(inst.vehicles):
        problem.add_vehicle(
            vroom.Vehicle(
                id=k,
                start=0,
                end=0,
                capacity=[inst.capacity],
                time_window=vroom.TimeWindow(int(inst.depot.ready * SCALE), int(inst.depot.due * SCALE)),
            )
        )
    for c in inst.customers:
        problem.add_job(
            vroom.Job(
                id=c.number,
                location=c.number,
                default_service=round(c.service * SCALE),
                delivery=[c.demand],
                time_windows=[vroom.TimeWindow(round(c.ready * SCALE), round(c.due * SCALE))],
            )
        )
    t0 = time.perf_counter()
    sol = problem.solve(exploration_level=5, nb_threads=1, timeout=timedelta(seconds=time_limit))
    seconds = time.perf_counter() - t0
    df = sol.routes
    routes = []
    for _, group in df[df["type"] == "job"].groupby("vehicle_id", sort=True):
        routes.append([int(i) for i in group["id"]])
    return routes, seconds


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--instances", default="", help="comma-separated names (default: all 56)")
    p.add_argument("--time-limit", type=float, default=10.0)
    p.add_argument("--no-peer", action="store_true")
    args = p.parse_args()
    import sys

    sys.path.insert(0, str(ROOT))
    from routing.evaluation.solomon import check_routes, gap_pct, read_solomon

    bks = json.loads((DATA / "BKS_vroom_scripts.json").read_text())
    names = [n.strip().upper() for n in args.instances.split(",") if n.strip()] or sorted(
        f.stem for f in DATA.glob("*.txt")
    )
    rows = []
    for name in names:
        inst = read_solomon(DATA / f"{name}.txt")
        best = bks[f"{name}_distance"]["best_known_cost"]
        row: dict = {"name": name, "bks_distance": best, "suspect_bks": name in SUSPECT}
        solvers = [("ours", run_ours)] + ([] if args.no_peer else [("vroom", run_vroom)])
        for label, fn in solvers:
            routes, secs = fn(inst, args.time_limit)
            chk = check_routes(inst, routes)
            row[label] = {
                "feasible": chk.feasible,
                "vehicles": chk.vehicles,
                "distance": round(chk.distance, 4),
                "gap_pct": round(gap_pct(chk.distance, best), 4),
                "seconds": round(secs, 3),
                "routes": routes,
                "problems": chk.problems[:5],
                "missing": chk.missing,
            }
        rows.append(row)
        line = (
            f"{name:6} bks {best:9.2f}  ours {row['ours']['distance']:9.2f} ({row['ours']['gap_pct']:+.2f} %, "
            f"{row['ours']['vehicles']} veh{'' if row['ours']['feasible'] else ', INFEASIBLE'})"
        )
        if "vroom" in row:
            line += (
                f"  vroom {row['vroom']['distance']:9.2f} ({row['vroom']['gap_pct']:+.2f} %"
                f"{'' if row['vroom']['feasible'] else ', INFEASIBLE'})"
            )
        print(line, flush=True)

    res = Result("solomon")
    scored = [r for r in rows if not r["suspect_bks"]]

    def agg(label: str, key: str) -> float | None:
        vals = [r[label][key] for r in scored if label in r and r[label]["feasible"]]
        return statistics.fmean(vals) if vals else None

    def feasible(label: str) -> float | None:
        return sum(1 for r in rows if label in r and r[label]["feasible"]) if any(label in r for r in rows) else None

    peer = None if args.no_peer else "vroom"
    res.add(
        "feasible instances",
        f"of {len(rows)}",
        feasible("ours"),
        feasible("vroom") if peer else None,
        "VROOM (pyvroom)",
        "higher",
    )
    res.add(
        f"mean gap to distance BKS at {args.time_limit:g} s",
        "%",
        agg("ours", "gap_pct"),
        agg("vroom", "gap_pct") if peer else None,
        "VROOM (pyvroom)",
        "lower",
    )
    held_out = [r for r in scored if r["name"] not in TUNING]

    def held(label: str) -> float | None:
        vals = [r[label]["gap_pct"] for r in held_out if label in r and r[label]["feasible"]]
        return statistics.fmean(vals) if vals else None

    res.add(
        f"mean gap, {len(held_out)} held-out instances",
        "%",
        held("ours"),
        held("vroom") if peer else None,
        "VROOM (pyvroom)",
        "lower",
    )
    res.add(
        "mean vehicles",
        "routes",
        agg("ours", "vehicles"),
        agg("vroom", "vehicles") if peer else None,
        "VROOM (pyvroom)",
        "lower",
    )
    res.add(
        "mean seconds per instance",
        "s",
        agg("ours", "seconds"),
        agg("vroom", "seconds") if peer else None,
        "VROOM (pyvroom)",
        "lower",
    )
    res.notes.append(GOAL)
    res.notes.append(
        f"mean gap over {len(scored)} instances (excluded as suspect BKS: "
        f"{', '.join(sorted(SUSPECT & set(names))) or 'none'})"
    )
    res.details = {"time_limit_seconds": args.time_limit, "instances": rows}
    res.print(args.json)


if __name__ == "__main__":
    main()
