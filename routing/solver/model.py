"""The OR-Tools model of a crew-routing problem, built in named steps (nodes, cost and time, jobs, capacities,
breaks, locks), and the solved routes read back from an assignment.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from routing.problem import (
    CrewSpec,
    Job,
    Problem,
    ProblemError,
    SolvedRoute,
    SolverSettings,
    Visit,
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


def _start(crew: CrewSpec) -> int:
    """A validated crew's start depot (Problem.validate refuses a crew without one)."""
    if crew.start_index is None:
        raise ProblemError(f"crew {crew.id!r} has no start depot")
    return crew.start_index


@dataclass
class _Model:
    """An OR-Tools model under construction: nodes (distinct depots first, then one per plannable job), their
    matrices, and the handles each step below adds to."""

    crews: list[CrewSpec]
    jobs: list[Job]
    loc_of_node: np.ndarray
    service: np.ndarray
    travel: np.ndarray
    metres: np.ndarray
    first_job_node: int
    manager: Any
    routing: Any
    time_dim: Any = None
    node_index: dict[str, int] = field(default_factory=dict)

    @property
    def solver(self) -> Any:
        return self.routing.solver()


def _nodes(problem: Problem, plannable: list[tuple[Job, list[int]]]) -> _Model:
    """Nodes: the distinct depot locations first, then one node per plannable job; matrices cut to them."""
    crews = problem.crews
    depot_locs = sorted({_start(c) for c in crews} | {c.return_index for c in crews})
    depot_node = {loc: i for i, loc in enumerate(depot_locs)}
    jobs = [j for j, _ in plannable]
    loc_of_node = np.array(depot_locs + [j.location_index for j in jobs], dtype=np.int64)
    service = np.array([0] * len(depot_locs) + [j.service_seconds for j in jobs], dtype=np.int64)
    travel = problem.matrix.seconds[np.ix_(loc_of_node, loc_of_node)].astype(np.int64)
    metres = problem.matrix.metres[np.ix_(loc_of_node, loc_of_node)].astype(np.int64)
    starts = [depot_node[_start(c)] for c in crews]
    ends = [depot_node[c.return_index] for c in crews]
    manager = pywrapcp.RoutingIndexManager(len(loc_of_node), len(crews), starts, ends)
    return _Model(
        crews=crews,
        jobs=jobs,
        loc_of_node=loc_of_node,
        service=service,
        travel=travel,
        metres=metres,
        first_job_node=len(depot_locs),
        manager=manager,
        routing=pywrapcp.RoutingModel(manager),
    )


def _add_cost_and_time(m: _Model, settings: SolverSettings) -> None:
    """Arc cost is drive time; the time dimension adds each node's service, within each crew's shift."""
    routing, manager, travel, service = m.routing, m.manager, m.travel, m.service
    # Matrices indexed by node (the manager maps indices to nodes for registered matrices).
    if settings.transit == "python":
        travel_l, time_l = travel.tolist(), (travel + service[:, None]).tolist()
        cost_cb = routing.RegisterTransitCallback(lambda i, j: travel_l[manager.IndexToNode(i)][manager.IndexToNode(j)])
        time_cb = routing.RegisterTransitCallback(lambda i, j: time_l[manager.IndexToNode(i)][manager.IndexToNode(j)])
    else:
        cost_cb = routing.RegisterTransitMatrix(travel.tolist())
        time_cb = routing.RegisterTransitMatrix((travel + service[:, None]).tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    if settings.crew_fixed_cost:
        routing.SetFixedCostOfAllVehicles(int(settings.crew_fixed_cost))
    horizon = int(max(c.shift_end for c in m.crews) + int(travel.max()) + int(service.max()) + 1)
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    m.time_dim = routing.GetDimensionOrDie("time")
    for v, crew in enumerate(m.crews):
        m.time_dim.CumulVar(routing.Start(v)).SetRange(crew.shift_start, crew.shift_end)
        m.time_dim.CumulVar(routing.End(v)).SetRange(crew.shift_start, crew.shift_end)
        if settings.compact_schedules:
            routing.AddVariableMaximizedByFinalizer(m.time_dim.CumulVar(routing.Start(v)))
            routing.AddVariableMinimizedByFinalizer(m.time_dim.CumulVar(routing.End(v)))


def _add_jobs(m: _Model, problem: Problem, plannable: list[tuple[Job, list[int]]]) -> None:
    """Each job: its time windows (gaps between windows removed), the crews allowed, and its drop penalty."""
    for k, (job, eligible) in enumerate(plannable):
        index = m.manager.NodeToIndex(m.first_job_node + k)
        m.node_index[job.id] = index
        cumul = m.time_dim.CumulVar(index)
        if job.windows:
            ws = sorted(job.windows, key=lambda w: w.start)
            cumul.SetRange(ws[0].start, max(w.end for w in ws))
            for a, b in itertools.pairwise(ws):
                if b.start > a.end + 1:
                    cumul.RemoveInterval(a.end + 1, b.start - 1)
        if len(eligible) < len(m.crews):
            # Same as SetAllowedVehiclesForIndex (whose 9.15 binding rejects Python lists); -1 = dropped.
            m.routing.VehicleVar(index).SetValues([-1, *eligible])
        m.routing.AddDisjunction([index], problem.drop_penalty(job))


def _add_capacities(m: _Model) -> None:
    """Vehicle load (job demand) and the most jobs a crew takes, where any crew or job sets them."""
    crews, jobs, routing = m.crews, m.jobs, m.routing
    demands = [0] * m.first_job_node + [j.demand for j in jobs]
    if any(demands) or any(c.capacity is not None for c in crews):
        load_cb = routing.RegisterUnaryTransitVector(demands)
        caps = [c.capacity if c.capacity is not None else sum(demands) + 1 for c in crews]
        routing.AddDimensionWithVehicleCapacity(load_cb, 0, caps, True, "load")
    if any(c.max_jobs is not None for c in crews):
        count_cb = routing.RegisterUnaryTransitVector([0] * m.first_job_node + [1] * len(jobs))
        limits = [c.max_jobs if c.max_jobs is not None else len(jobs) for c in crews]
        routing.AddDimensionWithVehicleCapacity(count_cb, 0, limits, True, "jobs")


def _add_breaks(m: _Model) -> None:
    """Crew breaks as interval variables; service is "visit transit", so a break may not cut through it."""
    visit_transits = [int(m.service[m.manager.IndexToNode(i)]) for i in range(m.routing.Size())]
    for v, crew in enumerate(m.crews):
        if crew.breaks:
            intervals = [
                m.solver.FixedDurationIntervalVar(b.earliest_start, b.latest_start, b.duration, False, f"break {v} {k}")
                for k, b in enumerate(crew.breaks)
            ]
            m.time_dim.SetBreakIntervalsOfVehicle(intervals, v, visit_transits)


def _add_locks(m: _Model, locks: dict[str, Sequence[str]]) -> None:
    """A locked chain starts the crew's route in that order (screened-out jobs are skipped: already dropped)."""
    crew_pos = {c.id: v for v, c in enumerate(m.crews)}
    for crew_id, chain in locks.items():
        prev = m.routing.Start(crew_pos[crew_id])
        for job_id in chain:
            if job_id not in m.node_index:
                continue
            m.solver.Add(m.routing.NextVar(prev) == m.node_index[job_id])
            prev = m.node_index[job_id]


def _search_parameters(settings: SolverSettings) -> Any:
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, settings.first_solution)
    params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, settings.local_search)
    params.time_limit.FromMilliseconds(max(1, int(settings.time_limit_seconds * 1000)))
    if settings.solution_limit:
        params.solution_limit = settings.solution_limit
    params.log_search = settings.log_search
    _apply_overrides(params, settings.search_overrides)
    return params


def _read_routes(m: _Model, assignment: Any) -> tuple[list[SolvedRoute], set[str]]:
    """The solved routes with their visits, breaks and totals; and the ids of the jobs they serve."""
    break_times: dict[int, list[tuple[int, int]]] = {}
    intervals = assignment.IntervalVarContainer()
    for i in range(intervals.Size()):
        el = intervals.Element(i)
        if el.PerformedValue():
            v = int(el.Var().Name().split()[1])
            break_times.setdefault(v, []).append((el.StartValue(), el.DurationValue()))
    routes: list[SolvedRoute] = []
    assigned: set[str] = set()
    for v, crew in enumerate(m.crews):
        route = _read_route(m, assignment, v, crew, sorted(break_times.get(v, [])))
        if route is not None:
            routes.append(route)
            assigned |= {x.job_id for x in route.visits}
    return routes, assigned


def _read_route(
    m: _Model, assignment: Any, v: int, crew: CrewSpec, breaks: list[tuple[int, int]]
) -> SolvedRoute | None:
    routing, manager, time_dim = m.routing, m.manager, m.time_dim
    index = routing.Start(v)
    if routing.IsEnd(assignment.Value(routing.NextVar(index))):
        return None
    start_time = assignment.Min(time_dim.CumulVar(index))
    prev_node, prev_departure = manager.IndexToNode(index), start_time
    visits: list[Visit] = []
    drive = dist = 0
    index = assignment.Value(routing.NextVar(index))
    while not routing.IsEnd(index):
        node = manager.IndexToNode(index)
        job = m.jobs[node - m.first_job_node]
        leg_s, leg_m = int(m.travel[prev_node, node]), int(m.metres[prev_node, node])
        cumul = time_dim.CumulVar(index)
        begin = assignment.Min(cumul)
        arrival = prev_departure + leg_s
        visits.append(
            Visit(
                job_id=job.id,
                location_index=job.location_index,
                arrival=arrival,
                start=begin,
                departure=begin + job.service_seconds,
                wait=max(0, begin - arrival),
                slack=assignment.Max(cumul) - begin,
                travel_seconds=leg_s,
                travel_metres=leg_m,
            )
        )
        drive += leg_s
        dist += leg_m
        prev_node, prev_departure = node, begin + job.service_seconds
        index = assignment.Value(routing.NextVar(index))
    end_node = manager.IndexToNode(index)
    drive += int(m.travel[prev_node, end_node])
    dist += int(m.metres[prev_node, end_node])
    served = {x.job_id for x in visits}
    return SolvedRoute(
        crew_id=crew.id,
        start_index=_start(crew),
        end_index=crew.return_index,
        start_time=start_time,
        end_time=assignment.Min(time_dim.CumulVar(index)),
        visits=visits,
        breaks=breaks,
        drive_seconds=drive,
        distance_metres=dist,
        service_seconds=sum(j.service_seconds for j in m.jobs if j.id in served),
        wait_seconds=sum(x.wait for x in visits),
    )


def _apply_overrides(params: object, overrides: Mapping[str, object]) -> None:
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
