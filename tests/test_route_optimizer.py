"""The Django-free optimizer on small hand-checkable cases.

The literal street: five stops on a line, 10 minutes apart (600 s, 5 km per leg); the depot is at 0.
        depot(0) — a(1) — b(2) — c(3) — d(4)
Times are seconds from midnight; crews work 08:00-16:00 unless a test says otherwise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.evaluation.solomon import check_routes, gap_pct, read_solomon, to_problem
from routing.problem import (
    Break,
    CrewSpec,
    CrewState,
    DropReason,
    Job,
    Matrix,
    Problem,
    ProblemError,
    SolverSettings,
    TimeWindow,
)
from routing.solver import replan, solve

H = 3600
LEG = 600
LINE = Matrix.from_lists(
    [[abs(a - b) * LEG for b in range(5)] for a in range(5)], [[abs(a - b) * 5000 for b in range(5)] for a in range(5)]
)
FAST = SolverSettings(time_limit_seconds=1, solution_limit=200)


def crew(cid: str, **kw) -> CrewSpec:
    return CrewSpec(
        id=cid,
        start_index=kw.pop("start_index", 0),
        shift_start=kw.pop("shift_start", 8 * H),
        shift_end=kw.pop("shift_end", 16 * H),
        **kw,
    )


def plan(crews, jobs, settings=FAST, matrix=LINE):
    return solve(Problem(crews=crews, jobs=jobs, matrix=matrix, settings=settings))


def test_one_crew_visits_the_line_in_order_with_times_and_distance():
    sol = plan([crew("alpha")], [Job("c", 3, 600), Job("a", 1, 600), Job("b", 2, 600)])
    route = sol.route_of("alpha")
    assert route.job_ids in (["a", "b", "c"], ["c", "b", "a"])  # both directions cost the same
    assert route.distance_metres == 30_000  # out 3 legs and back 3 legs
    assert route.drive_seconds == 6 * LEG
    first, second, third = route.visits
    assert second.arrival == first.departure + LEG and third.arrival == second.departure + LEG
    assert sol.dropped == []


def test_skills_are_honoured():
    sol = plan(
        [crew("alpha"), crew("sparky", skills=frozenset({"electric"}))],
        [Job("light", 4, 600, required_skill="electric"), Job("pothole", 1, 600)],
    )
    assert "light" in sol.route_of("sparky").job_ids
    assert all("light" not in r.job_ids for r in sol.routes if r.crew_id != "sparky")


def test_windows_and_shifts_are_honoured():
    windows = {"a": TimeWindow(13 * H, 14 * H), "d": TimeWindow(9 * H, 9 * H + 1800)}
    sol = plan([crew("alpha")], [Job(j, i, 900, windows=[windows[j]]) for j, i in (("a", 1), ("d", 4))])
    route = sol.route_of("alpha")
    assert route.job_ids == ["d", "a"]
    for v in route.visits:
        assert windows[v.job_id].start <= v.start <= windows[v.job_id].end
    assert route.start_time >= 8 * H and route.end_time <= 16 * H


def test_a_job_can_have_two_windows():
    sol = plan(
        [crew("alpha", shift_start=11 * H)],
        [Job("a", 1, 600, windows=[TimeWindow(8 * H, 9 * H), TimeWindow(14 * H, 15 * H)])],
    )
    assert 14 * H <= sol.route_of("alpha").visits[0].start <= 15 * H


def test_a_break_is_placed_in_its_window_and_not_inside_a_job():
    sol = plan(
        [crew("alpha", breaks=[Break(12 * H, 12 * H + 1800, 1800)])],
        [Job(j, i, 2 * H) for j, i in (("a", 1), ("b", 2), ("c", 3))],
    )
    route = sol.route_of("alpha")
    assert sorted(route.job_ids) == ["a", "b", "c"]  # six hours of work and the break fit the eight-hour shift
    assert len(route.breaks) == 1
    start, duration = route.breaks[0]
    assert 12 * H <= start <= 12 * H + 1800 and duration == 1800
    for v in route.visits:
        assert start + duration <= v.start or v.departure <= start


def test_capacity_splits_the_work_between_crews():
    # Three 6-unit jobs, two crews of capacity 10: one job each, the third cannot fit anywhere.
    sol = plan(
        [crew("alpha", capacity=10), crew("bravo", capacity=10)],
        [Job(j, i, 60, demand=6) for j, i in (("a", 1), ("b", 2), ("c", 3))],
    )
    assert sorted(len(r.visits) for r in sol.routes) == [1, 1]
    assert [d.reason for d in sol.dropped] == [DropReason.DAY_FULL]


def test_a_job_nobody_can_do_is_dropped_with_its_reason():
    sol = plan(
        [crew("alpha", capacity=10)],
        [
            Job("wires", 1, 600, required_skill="high-voltage"),
            Job("night", 2, 600, windows=[TimeWindow(22 * H, 23 * H)]),
            Job("far", 4, 600, windows=[TimeWindow(8 * H, 8 * H + 60)]),  # 40 min away; window closes in 1 min
            Job("heavy", 1, 600, demand=50),
            Job("ok", 1, 600),
        ],
    )
    assert sol.dropped_reason("wires") == DropReason.NO_CREW_WITH_SKILL
    assert sol.dropped_reason("night") == DropReason.OUTSIDE_EVERY_SHIFT
    assert sol.dropped_reason("far") == DropReason.TOO_FAR
    assert sol.dropped_reason("heavy") == DropReason.OVER_CAPACITY
    assert sol.route_of("alpha").job_ids == ["ok"]
    assert all(d.detail for d in sol.dropped)


def test_on_a_full_day_priority_decides_what_is_dropped():
    # A 2-hour shift fits one 80-minute job: the priority-5 one must win whatever its position.
    short = crew("alpha", shift_start=8 * H, shift_end=10 * H)
    sol = plan([short], [Job("routine", 1, 80 * 60, priority=1), Job("urgent", 2, 80 * 60, priority=5)])
    assert sol.route_of("alpha").job_ids == ["urgent"]
    assert sol.dropped_reason("routine") == DropReason.DAY_FULL


def test_lateness_raises_the_penalty():
    p = Problem(crews=[crew("alpha")], jobs=[], matrix=LINE)
    assert p.drop_penalty(Job("late", 1, priority=2, lateness_days=3)) > p.drop_penalty(Job("new", 1, priority=3))


def test_a_pinned_job_stays_with_its_crew():
    sol = plan([crew("alpha", start_index=4), crew("bravo")], [Job("a", 1, 600, pinned_crew="alpha")])
    assert sol.route_of("alpha").job_ids == ["a"]  # bravo is next door, but the job is pinned


def test_a_job_pinned_to_an_absent_crew_is_dropped_with_its_reason():
    sol = plan([crew("alpha")], [Job("a", 1, 600, pinned_crew="zulu")])
    assert sol.dropped_reason("a") == DropReason.PINNED_CREW_UNAVAILABLE


def test_max_jobs_limits_a_crew():
    sol = plan([crew("alpha", max_jobs=2)], [Job(j, i, 60) for j, i in (("a", 1), ("b", 2), ("c", 3))])
    assert len(sol.route_of("alpha").visits) == 2
    assert len(sol.dropped) == 1


def test_replanning_keeps_done_stops_out_and_starts_each_crew_where_it_is():
    base = Problem(
        crews=[crew("alpha"), crew("bravo")],
        jobs=[Job(j, i, 600) for j, i in (("a", 1), ("b", 2), ("c", 3), ("d", 4))],
        matrix=LINE,
        settings=FAST,
    )
    now = 10 * H
    sol = replan(base, [CrewState("alpha", position_index=2, available_from=now)], done_job_ids={"a", "b"})
    planned = sol.assigned_job_ids
    assert planned == {"c", "d"}
    alpha = sol.route_of("alpha")
    assert alpha is not None and alpha.job_ids  # alpha stands next to c and d: it takes them
    assert alpha.start_index == 2 and alpha.visits[0].arrival >= now


def test_replanning_keeps_locked_stops_first_and_in_order():
    base = Problem(
        crews=[crew("alpha"), crew("bravo")],
        jobs=[Job(j, i, 600) for j, i in (("a", 1), ("b", 2), ("c", 3), ("d", 4))],
        matrix=LINE,
        settings=FAST,
    )
    sol = replan(base, [CrewState("alpha", position_index=0, available_from=9 * H, locked_job_ids=["d", "a"])])
    assert sol.route_of("alpha").job_ids[:2] == ["d", "a"]


def test_a_new_urgent_job_is_inserted_on_replan():
    base = Problem(
        crews=[crew("alpha", shift_end=11 * H)],
        jobs=[Job("a", 1, 3600, priority=2), Job("b", 2, 3600, priority=2)],
        matrix=LINE,
        settings=FAST,
    )
    base.jobs.append(Job("gas-leak", 3, 3600, priority=5))
    sol = replan(base, [CrewState("alpha", position_index=1, available_from=9 * H)])
    assert "gas-leak" in sol.route_of("alpha").job_ids


def test_a_crew_going_off_shift_has_its_stops_redistributed():
    base = Problem(
        crews=[crew("alpha"), crew("bravo")],
        jobs=[Job("a", 1, 600, pinned_crew="alpha"), Job("b", 2, 600)],
        matrix=LINE,
        settings=FAST,
    )
    sol = replan(
        base, [CrewState("alpha", position_index=1, available_from=11 * H, locked_job_ids=["a"], off_shift=True)]
    )
    assert sol.route_of("alpha") is None
    assert set(sol.route_of("bravo").job_ids) == {"a", "b"}
    assert sol.stats["crews_off_shift"] == ["alpha"]


def test_a_fixed_seed_and_solution_limit_give_the_same_plan_twice():
    jobs = [Job(f"j{i}", 1 + i % 4, 300 + 60 * i) for i in range(8)]
    settings = SolverSettings(time_limit_seconds=5, solution_limit=50)
    first = plan([crew("alpha"), crew("bravo")], jobs, settings)
    second = plan([crew("alpha"), crew("bravo")], jobs, settings)
    assert first.assigned_job_ids == {j.id for j in jobs}
    assert [r.job_ids for r in first.routes] == [r.job_ids for r in second.routes]


@pytest.mark.parametrize(
    ("crews", "jobs", "message"),
    [
        ([crew("alpha", start_index=None)], [Job("a", 1)], "crew 'alpha' has no start depot"),
        (
            [crew("alpha", shift_start=16 * H, shift_end=8 * H)],
            [Job("a", 1)],
            "shift ends at 08:00, not after it starts at 16:00",
        ),
        ([crew("alpha")], [Job("a", 9)], "location index 9 is outside the matrix"),
        ([crew("alpha")], [Job("a", 1, priority=9)], "priority must be 1…5"),
        ([crew("alpha"), crew("alpha")], [Job("a", 1)], "used twice"),
    ],
)
def test_bad_input_gets_a_clear_error(crews, jobs, message):
    with pytest.raises(ProblemError, match=message):
        plan(crews, jobs)


def test_an_impossible_window_is_refused_when_it_is_made():
    with pytest.raises(ProblemError, match=r"ends .* before it starts"):
        TimeWindow(10 * H, 9 * H)


def test_an_empty_day_is_an_empty_plan_that_says_why():
    sol = plan([crew("alpha")], [])
    assert sol.routes == [] and sol.dropped == []
    assert sol.status.startswith("EMPTY")
    no_crews = plan([], [Job("a", 1)])
    assert no_crews.dropped_reason("a") == DropReason.NO_CREWS


def test_bad_search_parameters_are_a_clear_error_not_an_empty_plan():
    bad = SolverSettings(time_limit_seconds=1, search_overrides={"solution_limit": 0})
    with pytest.raises(ProblemError, match="rejected the search parameters"):
        plan([crew("alpha")], [Job("a", 1, 600)], bad)
    with pytest.raises(ProblemError, match="unknown OR-Tools search parameter"):
        plan([crew("alpha")], [Job("a", 1, 600)], SolverSettings(search_overrides={"no_such_knob": 1}))


def test_ruin_and_recreate_keeps_every_constraint_on_a_busier_day():
    """30 jobs on a 6x5 grid, two skills, windows, breaks, capacity: the improved plan is still valid."""
    import itertools

    import numpy as np

    pts = [(0, 0), *[(x, y) for x, y in itertools.product(range(6), range(5))][:30]]
    xy = np.array(pts, dtype=float)
    secs = (np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2) * 300).astype(int)
    matrix = Matrix(seconds=secs, metres=secs * 8)
    crews = [
        crew("alpha", skills=frozenset({"electric"}), capacity=12, breaks=[Break(12 * H, 13 * H, 1800)]),
        crew("bravo", capacity=12, breaks=[Break(12 * H, 13 * H, 1800)]),
        crew("charlie", capacity=12),
    ]
    jobs = [
        Job(
            f"j{i}",
            i,
            900,
            demand=1,
            required_skill="electric" if i % 7 == 0 else None,
            windows=[TimeWindow(8 * H + (i % 4) * 2 * H, 10 * H + (i % 4) * 2 * H)],
        )
        for i in range(1, 31)
    ]
    sol = plan(crews, jobs, SolverSettings(time_limit_seconds=3), matrix=matrix)
    assert sol.stats["ruin_iterations"] > 0
    windows = {j.id: j.windows[0] for j in jobs}
    for route in sol.routes:
        assert len(route.visits) <= 12
        for v in route.visits:
            assert windows[v.job_id].start <= v.start <= windows[v.job_id].end
            if v.job_id in {f"j{i}" for i in range(7, 31, 7)}:
                assert route.crew_id == "alpha"
        for b_start, b_len in route.breaks:
            assert all(b_start + b_len <= v.start or v.departure <= b_start for v in route.visits)
    assert len(sol.assigned_job_ids) == 30 and sol.dropped == []  # 36 places for 30 jobs: every job is served


def test_regression_floor_c101_within_one_percent_of_best_known():
    inst = read_solomon(Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "solomon" / "C101.txt")
    sol = solve(to_problem(inst, SolverSettings(time_limit_seconds=3)))
    check = check_routes(inst, [[int(j) for j in r.job_ids] for r in sol.routes])
    assert check.feasible, check.problems
    assert gap_pct(check.distance, 828.94) <= 1.0
