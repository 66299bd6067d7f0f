"""What registering transit matrices saves over per-arc Python callbacks, on the same OR-Tools search.

    python benchmarks/transit_callbacks.py [--json] [--instances R101,RC201]

Both runs do identical, deterministic work (first solution + greedy descent to a local optimum, no
clock), so the time difference is the callback cost alone. Peer: the Python-callback model.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from _common import ROOT, Result, parser

sys.path.insert(0, str(ROOT))

from routing.evaluation.solomon import read_solomon, to_problem
from routing.problem import SolverSettings
from routing.solver import solve

DATA = Path(__file__).resolve().parent / "data" / "solomon"


def run(name: str, transit: str) -> tuple[float, int | None]:
    inst = read_solomon(DATA / f"{name}.txt")
    settings = SolverSettings(
        time_limit_seconds=120,
        local_search="GREEDY_DESCENT",
        ruin_and_recreate=False,
        compact_schedules=False,
        transit=transit,
    )
    t0 = time.perf_counter()
    sol = solve(to_problem(inst, settings))
    return time.perf_counter() - t0, sol.objective


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--instances", default="R101,R201,RC101,C101")
    args = p.parse_args()
    ours, peer = [], []
    for name in args.instances.split(","):
        m_t, m_obj = run(name, "matrix")
        p_t, p_obj = run(name, "python")
        assert m_obj == p_obj, f"{name}: the two models should do identical work ({m_obj} vs {p_obj})"
        ours.append(m_t)
        peer.append(p_t)
        print(f"{name}: matrix {m_t:.3f} s, python callbacks {p_t:.3f} s (same objective {m_obj})", flush=True)
    res = Result("transit_callbacks")
    res.add(
        "greedy descent to a local optimum, mean seconds",
        "s",
        statistics.fmean(ours),
        statistics.fmean(peer),
        "per-arc Python callbacks",
        "lower",
    )
    res.print(args.json)


if __name__ == "__main__":
    main()
