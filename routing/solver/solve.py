"""Solving and re-planning: screen jobs no crew can take, build the model, search, report every dropped job
with its reason.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence

from routing.problem import (
    CrewSpec,
    CrewState,
    Dropped,
    DropReason,
    Job,
    Problem,
    ProblemError,
    Solution,
    hhmm,
)
from routing.solver.model import (
    _STATUS,
    _add_breaks,
    _add_capacities,
    _add_cost_and_time,
    _add_jobs,
    _add_locks,
    _nodes,
    _read_routes,
    _search_parameters,
    _start,
)
from routing.solver.search import _ruin_and_recreate


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
                dropped.append(
                    Dropped(
                        job.id,
                        DropReason.PINNED_CREW_UNAVAILABLE,
                        f"pinned to crew {job.pinned_crew!r}, which is not on shift",
                    )
                )
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
                dropped.append(
                    Dropped(
                        job.id, DropReason.OVER_CAPACITY, f"demand {job.demand} exceeds every eligible crew's capacity"
                    )
                )
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
                dropped.append(
                    Dropped(
                        job.id,
                        DropReason.TOO_FAR,
                        "no eligible crew can reach it within its window and return by shift end",
                    )
                )
            else:
                spans_txt = ", ".join(f"{hhmm(w.start)}-{hhmm(w.end)}" for w in job.windows)
                dropped.append(
                    Dropped(
                        job.id,
                        DropReason.OUTSIDE_EVERY_SHIFT,
                        f"its window(s) {spans_txt} fall outside every eligible crew's shift",
                    )
                )
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
        return Solution(
            routes=[],
            dropped=dropped,
            objective=None,
            status="NOTHING_PLANNABLE: every job was screened out (see dropped)",
            wall_seconds=time.perf_counter() - t0,
        )
    return _solve_model(problem, plannable, dropped, dict(locks or {}), t0)


def _solve_model(
    problem: Problem,
    plannable: list[tuple[Job, list[int]]],
    dropped: list[Dropped],
    locks: dict[str, Sequence[str]],
    t0: float,
) -> Solution:
    """Build the model step by step, search, and read the routes back (each step is named below)."""
    settings = problem.settings
    m = _nodes(problem, plannable)
    _add_cost_and_time(m, settings)
    _add_jobs(m, problem, plannable)
    _add_capacities(m)
    _add_breaks(m)
    _add_locks(m, locks)
    params = _search_parameters(settings)
    # The ruin loop runs on the clock; a run bounded by solution_limit (deterministic mode) skips it.
    if settings.ruin_and_recreate and not settings.solution_limit and len(m.jobs) >= 2 * settings.ruin_min_visits:
        locked = {m.node_index[j] for chain in locks.values() for j in chain if j in m.node_index}
        assignment, search_stats = _ruin_and_recreate(
            m.routing, m.manager, params, settings, m.travel, m.first_job_node, len(m.crews), locked
        )
    else:
        assignment, search_stats = m.routing.SolveWithParameters(params), {}
    status = _STATUS.get(m.routing.status(), str(m.routing.status()))
    if status == "ROUTING_INVALID":
        raise ProblemError("OR-Tools rejected the search parameters (see its log); check search_overrides")
    if assignment is None:
        for job in m.jobs:
            dropped.append(Dropped(job.id, DropReason.DAY_FULL, f"the solver found no plan ({status})"))
        return Solution(
            routes=[], dropped=dropped, objective=None, status=status, wall_seconds=time.perf_counter() - t0
        )
    routes, assigned = _read_routes(m, assignment)
    for job in m.jobs:
        if job.id not in assigned:
            dropped.append(
                Dropped(job.id, DropReason.DAY_FULL, f"no room in an eligible crew's day at priority {job.priority}")
            )
    return Solution(
        routes=routes,
        dropped=dropped,
        objective=assignment.ObjectiveValue(),
        status=status,
        wall_seconds=time.perf_counter() - t0,
        stats={
            "nodes": len(m.loc_of_node),
            "vehicles": len(m.crews),
            "first_solution": settings.first_solution,
            "local_search": settings.local_search,
            "time_limit_seconds": settings.time_limit_seconds,
            "crews_used": len(routes),
            "jobs_planned": len(assigned),
            "jobs_dropped": len(dropped),
            **search_stats,
        },
    )


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
    crews: list[CrewSpec] = []
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
    locks = {
        s.crew_id: [j for j in s.locked_job_ids if j not in finished]
        for s in states
        if not s.off_shift and s.crew_id in {c.id for c in crews}
    }
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
    solution.stats.update(
        {
            "replan": True,
            "done": sorted(done_job_ids),
            "in_progress": sorted(in_progress_job_ids),
            "crews_off_shift": sorted(leaving),
        }
    )
    return solution
