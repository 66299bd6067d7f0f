"""Dispatch by habit, the baseline the optimizer is measured against (benchmarks/dispatch.py).

Each crew covers a fixed territory (its wards) and, from its yard, always drives next to the nearest open
job of its skill in that territory, until the next job would not be finished and the crew back at the
yard by the end of its shift. Breaks are taken when due. No look-ahead, no time windows: that is the
habit. Same Problem (jobs, crews, matrix) as the optimizer, so the figures compare like with like.
Django-free, like routing.problem.
"""

from __future__ import annotations

from collections.abc import Mapping

from routing.problem import Problem, Solution, SolvedRoute, Visit


def habit_dispatch(problem: Problem, territory: Mapping[str, str]) -> Solution:
    """`territory` maps job id → the crew id whose wards hold it; a job outside every territory is not done."""
    sec, met = problem.matrix.seconds, problem.matrix.metres
    routes: list[SolvedRoute] = []
    for crew in problem.crews:
        mine = [
            j
            for j in problem.jobs
            if territory.get(j.id) == crew.id and (not j.required_skill or j.required_skill in crew.skills)
        ]
        here = crew.start_index if crew.start_index is not None else 0
        home = crew.return_index
        t = crew.shift_start
        pending_breaks = sorted(crew.breaks, key=lambda b: b.earliest_start)
        taken: list[tuple[int, int]] = []
        visits: list[Visit] = []
        drive = dist = service = 0
        while mine:
            if pending_breaks and t >= pending_breaks[0].earliest_start:
                b = pending_breaks.pop(0)
                taken.append((t, b.duration))
                t += b.duration
            job = min(mine, key=lambda j: (sec[here, j.location_index], j.id))
            travel = int(sec[here, job.location_index])
            finish = t + travel + job.service_seconds
            if finish + int(sec[job.location_index, home]) > crew.shift_end:
                break
            visits.append(
                Visit(
                    job_id=job.id,
                    location_index=job.location_index,
                    arrival=t + travel,
                    start=t + travel,
                    departure=finish,
                    wait=0,
                    slack=0,
                    travel_seconds=travel,
                    travel_metres=int(met[here, job.location_index]),
                )
            )
            drive += travel
            dist += int(met[here, job.location_index])
            service += job.service_seconds
            t, here = finish, job.location_index
            mine.remove(job)
        back = int(sec[here, home])
        routes.append(
            SolvedRoute(
                crew_id=crew.id,
                start_index=crew.start_index or 0,
                end_index=home,
                start_time=crew.shift_start,
                end_time=t + back,
                visits=visits,
                breaks=taken,
                drive_seconds=drive + back,
                distance_metres=dist + int(met[here, home]),
                service_seconds=service,
                wait_seconds=0,
            )
        )
    done = {v.job_id for r in routes for v in r.visits}
    return Solution(
        routes=routes,
        dropped=[],
        objective=None,
        status="HABIT",
        wall_seconds=0.0,
        stats={"not_done": [j.id for j in problem.jobs if j.id not in done]},
    )
