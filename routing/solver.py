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

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Mapping, Sequence

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.problem import (
    Crew,
    CrewState,
    Dropped,
    DropReason,
    Job,
    Problem,
    ProblemError,
    Route,
    Solution,
    Visit,
    hhmm,
)

_STATUS = {
    0: "ROUTING_NOT_SOLVED",
    1: "ROUTING_SUCCESS",
    2: "ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED",
    3: "ROUTING_FAIL",
    4: "ROUTING_FAIL_TIMEOUT",
    5: "ROUTING_INVALID",
    6: "ROUTING_INFEASIBLE",
    7: "ROUTING_OPTIMAL",
}


def _start(crew: Crew) -> int:
    """A validated crew's start depot (Problem.validate refuses a crew without one)."""
    if crew.start_index is None:
        raise ProblemError(f"crew {crew.id!r} has no start depot")
    return crew.start_index


def _screen(problem: Problem) -> tuple[list[tuple[Job, list[int]]], list[Dropped]]:
    """Split jobs into plannable ones (with their eligible crews) and ones no crew could ever do, with why."""
    crews = problem.crews
    sec = problem.matrix.seconds
    plannable: list[tuple[Job, list[int]]] = []
    dropped: list[Dropped] = []
    crew_pos = {c.id: i for i, c in enumerate(crews)}
    for job in problem.jobs:
        if not crews:
            dropped.append(Dropped(job.id, DropReason.NO_CREWS, "no crew is on shift"))
            continue
        if job.pinned_crew is not None:
            if job.pinned_crew not in crew_pos:
                dropped.append(Dropped(job.id, DropReason.PINNED_CREW_UNAVAILABLE,
                                       f"pinned to crew {job.pinned_crew!r}, which is not on shift"))
                continue
            candidates = [crew_pos[job.pinned_crew]]
        else:
            candidates = list(range(len(crews)))
        if job.required_skill:
            skilled = [v for v in candidates if job.required_skill in crews[v].skills]
            if not skilled:
                who = f"pinned crew {job.pinned_crew!r} lacks" if job.pinned_crew else "no crew on shift has"
                dropped.append(Dropped(job.id, DropReason.NO_CREW_WITH_SKILL, f"{who} skill {job.required_skill!r}"))
                continue
            candidates = skilled
        if job.demand:
            big_enough = [v for v in candidates if (cap := crews[v].capacity) is None or cap >= job.demand]
            if not big_enough:
                dropped.append(Dropped(job.id, DropReason.OVER_CAPACITY,
                                       f"demand {job.demand} exceeds every eligible crew's capacity"))
                continue
            candidates = big_enough
        reachable, overlapping = [], False
        for v in candidates:
            crew = crews[v]
            go = int(sec[_start(crew), job.location_index])
            back = int(sec[job.location_index, crew.return_index])
            spans = [(w.start, w.end) for w in job.windows] or [(crew.shift_start, crew.shift_end)]
            for ws, we in spans:
                if we < crew.shift_start or ws > crew.shift_end:
                    continue
                overlapping = True
                earliest = max(crew.shift_start + go, ws)
                if earliest <= we and earliest + job.service_seconds + back <= crew.shift_end:
                    reachable.append(v)
                    break
        if not reachable:
            if overlapping:
                dropped.append(Dropped(job.id, DropReason.TOO_FAR,
                                       "no eligible crew can reach it within its window and return by shift end"))
            else:
                spans_txt = ", ".join(f"{hhmm(w.start)}-{hhmm(w.end)}" for w in job.windows)
                dropped.append(Dropped(job.id, DropReason.OUTSIDE_EVERY_SHIFT,
                                       f"its window(s) {spans_txt} fall outside every eligible crew's shift"))
            continue
        plannable.append((job, reachable))
    return plannable, dropped


def solve(problem: Problem, *, locks: Mapping[str, Sequence[str]] | None = None) -> Solution:
    """Plan the day. `locks` maps crew id → job ids that crew must visit first, in that order."""
    problem.validate()
    t0 = time.perf_counter()
    if not problem.jobs:
        return Solution(routes=[], dropped=[], objective=0, status="EMPTY: no jobs to plan", wall_seconds=0.0)
    plannable, dropped = _screen(problem)
    if not plannable:
        return Solution(routes=[], dropped=dropped, objective=None,
                        status="NOTHING_PLANNABLE: every job was screened out (see dropped)",
                        wall_seconds=time.perf_counter() - t0)
    return _solve_model(problem, plannable, dropped, dict(locks or {}), t0)


def _solve_model(
    problem: Problem,
    plannable: list[tuple[Job, list[int]]],
    dropped: list[Dropped],
    locks: dict[str, Sequence[str]],
    t0: float,
) -> Solution:
    crews = problem.crews
    settings = problem.settings
    n_vehicles = len(crews)

    # Nodes: the distinct depot locations first, then one node per plannable job.
    depot_locs = sorted({_start(c) for c in crews} | {c.return_index for c in crews})
    depot_node = {loc: i for i, loc in enumerate(depot_locs)}
    jobs = [j for j, _ in plannable]
    loc_of_node = np.array(depot_locs + [j.location_index for j in jobs], dtype=np.int64)
    service = np.array([0] * len(depot_locs) + [j.service_seconds for j in jobs], dtype=np.int64)
    n_nodes = len(loc_of_node)
    first_job_node = len(depot_locs)

    travel = problem.matrix.seconds[np.ix_(loc_of_node, loc_of_node)].astype(np.int64)
    metres = problem.matrix.metres[np.ix_(loc_of_node, loc_of_node)].astype(np.int64)
    starts = [depot_node[_start(c)] for c in crews]
    ends = [depot_node[c.return_index] for c in crews]

    manager = pywrapcp.RoutingIndexManager(n_nodes, n_vehicles, starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    # Matrices indexed by node (the manager maps indices to nodes for registered matrices).
    if settings.transit == "python":
        travel_l, time_l = travel.tolist(), (travel + service[:, None]).tolist()
        cost_cb = routing.RegisterTransitCallback(
            lambda i, j: travel_l[manager.IndexToNode(i)][manager.IndexToNode(j)])
        time_cb = routing.RegisterTransitCallback(
            lambda i, j: time_l[manager.IndexToNode(i)][manager.IndexToNode(j)])
    else:
        cost_cb = routing.RegisterTransitMatrix(travel.tolist())
        time_cb = routing.RegisterTransitMatrix((travel + service[:, None]).tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    if settings.crew_fixed_cost:
        routing.SetFixedCostOfAllVehicles(int(settings.crew_fixed_cost))

    horizon = int(max(c.shift_end for c in crews) + int(travel.max()) + int(service.max()) + 1)
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")

    for v, crew in enumerate(crews):
        time_dim.CumulVar(routing.Start(v)).SetRange(crew.shift_start, crew.shift_end)
        time_dim.CumulVar(routing.End(v)).SetRange(crew.shift_start, crew.shift_end)
        if settings.compact_schedules:
            routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(routing.Start(v)))
            routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(v)))

    node_index = {}
    for k, (job, eligible) in enumerate(plannable):
        node = first_job_node + k
        index = manager.NodeToIndex(node)
        node_index[job.id] = index
        cumul = time_dim.CumulVar(index)
        if job.windows:
            ws = sorted(job.windows, key=lambda w: w.start)
            cumul.SetRange(ws[0].start, max(w.end for w in ws))
            for a, b in itertools.pairwise(ws):
                if b.start > a.end + 1:
                    cumul.RemoveInterval(a.end + 1, b.start - 1)
        if len(eligible) < n_vehicles:
            # Same as SetAllowedVehiclesForIndex (whose 9.15 binding rejects Python lists); -1 = dropped.
            routing.VehicleVar(index).SetValues([-1, *eligible])
        routing.AddDisjunction([index], problem.drop_penalty(job))

    demands = [0] * first_job_node + [j.demand for j in jobs]
    if any(demands) or any(c.capacity is not None for c in crews):
        load_cb = routing.RegisterUnaryTransitVector(demands)
        caps = [c.capacity if c.capacity is not None else sum(demands) + 1 for c in crews]
        routing.AddDimensionWithVehicleCapacity(load_cb, 0, caps, True, "load")
    if any(c.max_jobs is not None for c in crews):
        count_cb = routing.RegisterUnaryTransitVector([0] * first_job_node + [1] * len(jobs))
        limits = [c.max_jobs if c.max_jobs is not None else len(jobs) for c in crews]
        routing.AddDimensionWithVehicleCapacity(count_cb, 0, limits, True, "jobs")

    # Service is "visit transit": a break may not cut through it.
    visit_transits = [int(service[manager.IndexToNode(i)]) for i in range(routing.Size())]
    for v, crew in enumerate(crews):
        if crew.breaks:
            intervals = [
                solver.FixedDurationIntervalVar(b.earliest_start, b.latest_start, b.duration, False,
                                                f"break {v} {k}")
                for k, b in enumerate(crew.breaks)
            ]
            time_dim.SetBreakIntervalsOfVehicle(intervals, v, visit_transits)

    crew_pos = {c.id: v for v, c in enumerate(crews)}
    for crew_id, chain in locks.items():
        v = crew_pos[crew_id]
        prev = routing.Start(v)
        for job_id in chain:
            if job_id not in node_index:
                continue  # screened out: reported in dropped
            solver.Add(routing.NextVar(prev) == node_index[job_id])
            prev = node_index[job_id]

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, settings.first_solution)
    params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, settings.local_search)
    params.time_limit.FromMilliseconds(max(1, int(settings.time_limit_seconds * 1000)))
    if settings.solution_limit:
        params.solution_limit = settings.solution_limit
    params.log_search = settings.log_search
    _apply_overrides(params, settings.search_overrides)

    # The ruin loop runs on the clock; a run bounded by solution_limit (deterministic mode) skips it.
    if settings.ruin_and_recreate and not settings.solution_limit and len(jobs) >= 2 * settings.ruin_min_visits:
        locked = {node_index[j] for chain in locks.values() for j in chain if j in node_index}
        assignment, search_stats = _ruin_and_recreate(routing, manager, params, settings, travel, first_job_node,
                                                      n_vehicles, locked)
    else:
        assignment, search_stats = routing.SolveWithParameters(params), {}
    status = _STATUS.get(routing.status(), str(routing.status()))
    if status == "ROUTING_INVALID":
        raise ProblemError("OR-Tools rejected the search parameters (see its log); check search_overrides")
    wall = time.perf_counter() - t0
    if assignment is None:
        for job in jobs:
            dropped.append(Dropped(job.id, DropReason.DAY_FULL, f"the solver found no plan ({status})"))
        return Solution(routes=[], dropped=dropped, objective=None, status=status, wall_seconds=wall)

    break_times: dict[int, list[tuple[int, int]]] = {}
    intervals = assignment.IntervalVarContainer()
    for i in range(intervals.Size()):
        el = intervals.Element(i)
        if el.PerformedValue():
            v = int(el.Var().Name().split()[1])
            break_times.setdefault(v, []).append((el.StartValue(), el.DurationValue()))

    routes: list[Route] = []
    assigned: set[str] = set()
    for v, crew in enumerate(crews):
        index = routing.Start(v)
        if routing.IsEnd(assignment.Value(routing.NextVar(index))):
            continue
        start_time = assignment.Min(time_dim.CumulVar(index))
        prev_node, prev_departure = manager.IndexToNode(index), start_time
        visits: list[Visit] = []
        drive = dist = 0
        index = assignment.Value(routing.NextVar(index))
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            job = jobs[node - first_job_node]
            leg_s, leg_m = int(travel[prev_node, node]), int(metres[prev_node, node])
            cumul = time_dim.CumulVar(index)
            begin = assignment.Min(cumul)
            arrival = prev_departure + leg_s
            visits.append(Visit(job_id=job.id, location_index=job.location_index, arrival=arrival, start=begin,
                                departure=begin + job.service_seconds, wait=max(0, begin - arrival),
                                slack=assignment.Max(cumul) - begin, travel_seconds=leg_s, travel_metres=leg_m))
            assigned.add(job.id)
            drive += leg_s
            dist += leg_m
            prev_node, prev_departure = node, begin + job.service_seconds
            index = assignment.Value(routing.NextVar(index))
        end_node = manager.IndexToNode(index)
        drive += int(travel[prev_node, end_node])
        dist += int(metres[prev_node, end_node])
        end_time = assignment.Min(time_dim.CumulVar(index))
        routes.append(Route(
            crew_id=crew.id, start_index=_start(crew), end_index=crew.return_index,
            start_time=start_time, end_time=end_time, visits=visits, breaks=sorted(break_times.get(v, [])),
            drive_seconds=drive, distance_metres=dist, service_seconds=sum(j.service_seconds for j in jobs
                                                                           if j.id in {x.job_id for x in visits}),
            wait_seconds=sum(x.wait for x in visits),
        ))
    for job in jobs:
        if job.id not in assigned:
            dropped.append(Dropped(job.id, DropReason.DAY_FULL,
                                   f"no room in an eligible crew's day at priority {job.priority}"))
    return Solution(
        routes=routes, dropped=dropped, objective=assignment.ObjectiveValue(), status=status,
        wall_seconds=time.perf_counter() - t0,
        stats={"nodes": n_nodes, "vehicles": n_vehicles, "first_solution": settings.first_solution,
               "local_search": settings.local_search, "time_limit_seconds": settings.time_limit_seconds,
               "crews_used": len(routes), "jobs_planned": len(assigned), "jobs_dropped": len(dropped),
               **search_stats},
    )


def _routes_of(routing: pywrapcp.RoutingModel, assignment: pywrapcp.Assignment, n_vehicles: int) -> list[list[int]]:
    routes = []
    for v in range(n_vehicles):
        index = assignment.Value(routing.NextVar(routing.Start(v)))
        route = []
        while not routing.IsEnd(index):
            route.append(index)
            index = assignment.Value(routing.NextVar(index))
        routes.append(route)
    return routes


def _assignment_from_routes(
    routing: pywrapcp.RoutingModel, template: pywrapcp.Assignment, routes: list[list[int]]
) -> pywrapcp.Assignment | None:
    assignment = routing.solver().Assignment(template)
    if not routing.RoutesToAssignment(routes, True, False, assignment):
        return None
    # Visits left out of the routes are unperformed: their next is themselves.
    on_route = {i for r in routes for i in r}
    for index in range(routing.Size()):
        if not routing.IsStart(index) and index not in on_route:
            assignment.SetValue(routing.NextVar(index), index)
    return assignment


def _ruin_and_recreate(
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    params: object,
    settings: object,
    travel: np.ndarray,
    first_job_node: int,
    n_vehicles: int,
    locked: set[int],
) -> tuple[pywrapcp.Assignment | None, dict[str, int]]:
    """Guided local search, then radial ruin-and-recreate steps from the best plan found.

    Why: GLS alone stagnates in one basin on tight-window problems (measured on Solomon R and RC
    instances); removing a cluster of nearby visits and letting OR-Tools' own insertion and local
    search rebuild them moves the plan to new basins. Each step starts from a partial assignment
    (the removed visits unperformed), so every step is a full OR-Tools search with all constraints.
    """
    import random

    rng = random.Random(settings.seed)  # type: ignore[attr-defined]
    deadline = time.perf_counter() + settings.time_limit_seconds  # type: ignore[attr-defined]
    first = pywrapcp.DefaultRoutingSearchParameters()
    first.CopyFrom(params)
    first.time_limit.FromMilliseconds(
        max(1, int(settings.time_limit_seconds * settings.ruin_first_phase_share * 1000)))  # type: ignore[attr-defined]
    assignment = routing.SolveWithParameters(first)
    if assignment is None:
        return None, {}
    # A private copy to fill routes into: ReadAssignmentFromRoutes runs under the search limit that the
    # previous step has used up, and then fails; RoutesToAssignment does no search.
    template = routing.solver().Assignment()
    template.Add([routing.NextVar(i) for i in range(routing.Size())])
    best_routes = _routes_of(routing, assignment, n_vehicles)
    best_cost = assignment.ObjectiveValue()
    current_routes, current_cost = best_routes, best_cost
    step = pywrapcp.DefaultRoutingSearchParameters()
    step.CopyFrom(params)
    step.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, settings.ruin_step_search)  # type: ignore[attr-defined]
    _apply_overrides(step, settings.ruin_step_overrides)  # type: ignore[attr-defined]
    job_nodes = list(range(first_job_node, travel.shape[0]))
    # Nearest job nodes of each job node, by travel time both ways.
    sym = travel + travel.T
    neighbours = {n: [int(m) for m in np.argsort(sym[n, first_job_node:]) + first_job_node if m != n]
                  for n in job_nodes}
    iterations = improvements = 0
    while True:
        left = deadline - time.perf_counter()
        if left < 0.02:
            break
        iterations += 1
        seed_node = rng.choice(job_nodes)
        k = rng.randint(settings.ruin_min_visits, settings.ruin_max_visits)  # type: ignore[attr-defined]
        removed = {manager.NodeToIndex(n) for n in [seed_node, *neighbours[seed_node][: k - 1]]} - locked
        partial = [[i for i in r if i not in removed] for r in current_routes]
        start = _assignment_from_routes(routing, template, partial)
        if start is None:
            continue
        step.time_limit.FromMilliseconds(max(1, int(min(settings.ruin_step_seconds, left) * 1000)))  # type: ignore[attr-defined]
        found = routing.SolveFromAssignmentWithParameters(start, step)
        if found is None:
            continue
        cost = found.ObjectiveValue()
        if cost < current_cost:
            current_routes, current_cost = _routes_of(routing, found, n_vehicles), cost
            if cost < best_cost:
                best_routes, best_cost = current_routes, cost
                improvements += 1
    # Rebuild a complete assignment (with times) for the best routes.
    final = pywrapcp.DefaultRoutingSearchParameters()
    final.CopyFrom(params)
    final.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    final.time_limit.FromMilliseconds(1000)
    start = _assignment_from_routes(routing, template, best_routes)
    result = routing.SolveFromAssignmentWithParameters(start, final) if start is not None else None
    stats = {"ruin_iterations": iterations, "ruin_improvements": improvements}
    return (result if result is not None else assignment), stats


def _apply_overrides(params: object, overrides: Mapping[str, object]) -> None:
    from ortools.util import optional_boolean_pb2

    for dotted, value in overrides.items():
        *path, leaf = dotted.split(".")
        target = params
        for part in path:
            target = getattr(target, part)
        if isinstance(value, str) and value.startswith("BOOL_"):
            value = getattr(optional_boolean_pb2, value)
        if not hasattr(target, leaf):
            raise ProblemError(f"unknown OR-Tools search parameter {dotted!r}")
        setattr(target, leaf, value)


def replan(
    problem: Problem,
    states: Sequence[CrewState],
    *,
    done_job_ids: set[str] | frozenset[str] = frozenset(),
    in_progress_job_ids: set[str] | frozenset[str] = frozenset(),
) -> Solution:
    """Plan the rest of the day from where each crew is now.

    Done and in-progress jobs are not planned again (they never move); each crew starts from its current
    position and time; locked jobs stay with their crew, first and in order; a crew going off shift
    drops out and its remaining stops (locked or pinned) go back into the pool for the others.
    """
    by_id = {s.crew_id: s for s in states}
    unknown = set(by_id) - {c.id for c in problem.crews}
    if unknown:
        raise ProblemError(f"state given for unknown crew(s): {', '.join(sorted(unknown))}")
    leaving = {s.crew_id for s in states if s.off_shift}
    crews: list[Crew] = []
    for crew in problem.crews:
        if crew.id in leaving:
            continue
        state = by_id.get(crew.id)
        if state is None:
            crews.append(crew)
            continue
        now = max(crew.shift_start, state.available_from)
        if now >= crew.shift_end:
            continue  # its day is over
        breaks = [
            dataclasses.replace(b, earliest_start=max(b.earliest_start, now))
            for b in crew.breaks
            if b.latest_start >= now
        ]
        crews.append(dataclasses.replace(crew, start_index=state.position_index, shift_start=now, breaks=breaks))
    finished = set(done_job_ids) | set(in_progress_job_ids)
    locks = {s.crew_id: [j for j in s.locked_job_ids if j not in finished]
             for s in states if not s.off_shift and s.crew_id in {c.id for c in crews}}
    locked_to = {job_id: crew_id for crew_id, chain in locks.items() for job_id in chain}
    jobs = []
    for job in problem.jobs:
        if job.id in finished:
            continue
        if job.pinned_crew in leaving:
            job = dataclasses.replace(job, pinned_crew=None)
        if job.id in locked_to:
            job = dataclasses.replace(job, pinned_crew=locked_to[job.id], must_do=True)
        jobs.append(job)
    sub = Problem(crews=crews, jobs=jobs, matrix=problem.matrix, settings=problem.settings)
    solution = solve(sub, locks=locks)
    solution.stats.update({"replan": True, "done": sorted(done_job_ids), "in_progress": sorted(in_progress_job_ids),
                           "crews_off_shift": sorted(leaving)})
    return solution
