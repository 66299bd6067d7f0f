"""Ruin-and-recreate on top of OR-Tools' local search: remove a cluster of visits, re-insert them, keep the
better plan, until the time budget is spent.
"""

from __future__ import annotations

import random
import time

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.solver.model import _apply_overrides


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
    rng = random.Random(settings.seed)  # type: ignore[attr-defined]
    deadline = time.perf_counter() + settings.time_limit_seconds  # type: ignore[attr-defined]
    first = pywrapcp.DefaultRoutingSearchParameters()
    first.CopyFrom(params)
    first.time_limit.FromMilliseconds(max(1, int(settings.time_limit_seconds * settings.ruin_first_phase_share * 1000)))  # type: ignore[attr-defined]
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
    step.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, settings.ruin_step_search)  # type: ignore[attr-defined]
    _apply_overrides(step, settings.ruin_step_overrides)  # type: ignore[attr-defined]
    job_nodes = list(range(first_job_node, travel.shape[0]))
    # Nearest job nodes of each job node, by travel time both ways.
    sym = travel + travel.T
    neighbours = {
        n: [int(m) for m in np.argsort(sym[n, first_job_node:]) + first_job_node if m != n] for n in job_nodes
    }
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
