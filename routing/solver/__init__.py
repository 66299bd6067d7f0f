"""Crew routing on OR-Tools: the only module in the project that imports ortools.

Model: one vehicle per crew (start/end depot, shift as the time range of its route, breaks as break
intervals, capacity and max-jobs dimensions), one node per job (service time, one or more windows for
the start of service, allowed crews from skills and pins), every job droppable with a penalty that grows
with priority and lateness (so a day that is too full still returns a plan, with what was left out and
why). Transit costs come from registered matrices (`RegisterTransitMatrix`), so the C++ search never
calls back into Python per arc (benchmarks/transit_callbacks.py measures the difference). First
solution: parallel cheapest insertion (works on tight windows where the default path-cheapest-arc
finds nothing); then guided local search for a tenth of the time limit, then ruin-and-recreate steps
(remove a cluster of nearby visits, let OR-Tools reinsert and re-optimise) for the rest: on Solomon at
10 s this took the mean gap from 3.22 % (GLS alone) to 1.17 %.
"""

from routing.solver.solve import replan, solve

__all__ = ["replan", "solve"]
