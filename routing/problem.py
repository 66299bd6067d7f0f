"""The crew-routing problem as plain dataclasses: no Django, no OR-Tools.

Why Django-free: the optimizer is tested and benchmarked on its own (Solomon VRPTW instances, tiny
hand-checkable cases), and the dispatch layer only has to translate rows into these objects. Times are
whole seconds from a reference instant the caller chooses (e.g. midnight of the service day, city
time); distances are whole metres. Locations are indices into the matrix.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


class ProblemError(ValueError):
    """The problem cannot be solved as stated; the message says what is wrong and what was expected."""


def hhmm(seconds: int) -> str:
    """Seconds from the reference instant as HH:MM (for messages)."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(int(seconds))
    return f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


@dataclass(frozen=True)
class TimeWindow:
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ProblemError(f"a time window ends ({hhmm(self.end)}) before it starts ({hhmm(self.start)})")


@dataclass(frozen=True)
class Break:
    """A break of `duration` seconds that must start within [earliest_start, latest_start]."""

    earliest_start: int
    latest_start: int
    duration: int

    def __post_init__(self) -> None:
        if self.latest_start < self.earliest_start or self.duration <= 0:
            raise ProblemError(f"a break must have a positive duration and latest_start ≥ earliest_start; got {self}")


@dataclass
class CrewSpec:
    """One crew as the solver sees it (indices into the matrix, seconds from midnight); not the routing.models.Crew
    row it is built from."""

    id: str
    start_index: int | None
    shift_start: int
    shift_end: int
    end_index: int | None = None  # None: back to the start depot
    skills: frozenset[str] = frozenset()
    capacity: int | None = None
    max_jobs: int | None = None
    breaks: Sequence[Break] = ()
    cost_per_hour: float = 0.0  # reserved for cost-weighted objectives; drive time is the default cost

    @property
    def return_index(self) -> int:
        assert self.start_index is not None
        return self.start_index if self.end_index is None else self.end_index


@dataclass
class Job:
    id: str
    location_index: int
    service_seconds: int = 0
    windows: Sequence[TimeWindow] = ()  # empty: any time within a shift
    priority: int = 3  # 1 (lowest) … 5 (emergency)
    required_skill: str | None = None
    demand: int = 0
    must_do: bool = False  # still droppable (never "no solution"), but at a prohibitive penalty
    pinned_crew: str | None = None
    lateness_days: float = 0.0  # how far past its SLA the job already is: raises its penalty


@dataclass
class Matrix:
    """Travel between locations: seconds (drives the time dimension and the cost) and metres."""

    seconds: np.ndarray
    metres: np.ndarray

    @classmethod
    def from_lists(cls, seconds: Sequence[Sequence[float]], metres: Sequence[Sequence[float]] | None = None) -> Matrix:
        s = np.asarray(seconds, dtype=np.int64)
        m = np.asarray(metres if metres is not None else seconds, dtype=np.int64)
        return cls(seconds=s, metres=m)

    @property
    def size(self) -> int:
        return int(self.seconds.shape[0])


class DropReason(enum.StrEnum):
    NO_CREW_WITH_SKILL = "no_crew_with_skill"
    PINNED_CREW_UNAVAILABLE = "pinned_crew_unavailable"
    OUTSIDE_EVERY_SHIFT = "outside_every_shift"
    TOO_FAR = "too_far"
    NO_NETWORK = "no_network"  # no loaded street network covers the place (a city's networks cover part of it)
    OVER_CAPACITY = "over_capacity"
    DAY_FULL = "day_full"
    NO_CREWS = "no_crews"


@dataclass
class SolverSettings:
    time_limit_seconds: float = 10.0
    # Deterministic runs: stop after this many improving solutions instead of on the clock.
    solution_limit: int | None = None
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    local_search: str = "GUIDED_LOCAL_SEARCH"
    # A fixed cost per crew used (in cost units): 0 minimises drive time only; raise it to prefer fewer crews.
    crew_fixed_cost: int = 0
    # Penalty of dropping a priority-1 job; each priority level doubles it, each day of lateness adds one base.
    drop_penalty_base: int = 100_000
    must_do_penalty: int = 10**12
    log_search: bool = False
    # "matrix": RegisterTransitMatrix (C++ reads the arrays). "python": a Python callback per arc, kept only
    # so benchmarks/transit_callbacks.py can measure what the matrix saves.
    transit: str = "matrix"
    # Leave crews at the depot as late as possible and bring them back as early as possible (tidy
    # schedules for people); costs search speed, so benchmarks on pure distance may turn it off.
    compact_schedules: bool = True
    # Ruin and recreate around OR-Tools: after a first guided local search, repeatedly remove a cluster
    # of nearby visits from the best plan and let OR-Tools reinsert and re-optimise them.
    ruin_and_recreate: bool = True
    ruin_first_phase_share: float = 0.1  # share of the time limit for the first GLS run
    ruin_min_visits: int = 5
    ruin_max_visits: int = 15
    ruin_step_seconds: float = 1.0  # cap on each re-optimisation
    ruin_step_search: str = "GREEDY_DESCENT"  # stop each step at a local optimum: more, cheaper steps
    # Extra overrides for the steps only (same form as search_overrides).
    ruin_step_overrides: dict[str, object] = field(default_factory=dict)
    seed: int = 1
    # Extra OR-Tools RoutingSearchParameters fields by dotted name, e.g.
    # {"guided_local_search_lambda_coefficient": 0.2, "local_search_operators.use_or_opt": "BOOL_FALSE"}.
    search_overrides: dict[str, object] = field(default_factory=dict)


@dataclass
class Problem:
    crews: list[CrewSpec]
    jobs: list[Job]
    matrix: Matrix
    settings: SolverSettings = field(default_factory=SolverSettings)

    def validate(self) -> None:
        """Raise ProblemError naming the first thing that is wrong."""
        m = self.matrix
        if m.seconds.ndim != 2 or m.seconds.shape[0] != m.seconds.shape[1]:
            raise ProblemError(f"the matrix must be square; got shape {m.seconds.shape}")
        if m.metres.shape != m.seconds.shape:
            raise ProblemError(f"seconds {m.seconds.shape} and metres {m.metres.shape} matrices differ in shape")
        if (m.seconds < 0).any() or (m.metres < 0).any():
            raise ProblemError("travel times and distances must be ≥ 0")
        n = m.size
        ids = set()
        for crew in self.crews:
            if crew.id in ids:
                raise ProblemError(f"crew id {crew.id!r} is used twice")
            ids.add(crew.id)
            if crew.start_index is None:
                raise ProblemError(f"crew {crew.id!r} has no start depot")
            for label, idx in (("start depot", crew.start_index), ("end depot", crew.end_index)):
                if idx is not None and not 0 <= idx < n:
                    raise ProblemError(f"crew {crew.id!r} {label} index {idx} is outside the matrix (0…{n - 1})")
            if crew.shift_end <= crew.shift_start:
                raise ProblemError(
                    f"crew {crew.id!r} shift ends at {hhmm(crew.shift_end)}, not after it starts at "
                    f"{hhmm(crew.shift_start)}"
                )
            if crew.capacity is not None and crew.capacity < 0:
                raise ProblemError(f"crew {crew.id!r} capacity must be ≥ 0")
        job_ids = set()
        for job in self.jobs:
            if job.id in job_ids:
                raise ProblemError(f"job id {job.id!r} is used twice")
            job_ids.add(job.id)
            if not 0 <= job.location_index < n:
                raise ProblemError(f"job {job.id!r} location index {job.location_index} is outside the matrix")
            if job.service_seconds < 0 or job.demand < 0:
                raise ProblemError(f"job {job.id!r}: service time and demand must be ≥ 0")
            if not 1 <= job.priority <= 5:
                raise ProblemError(f"job {job.id!r}: priority must be 1…5; got {job.priority}")
            if job.pinned_crew is not None and job.pinned_crew not in ids:
                # Not an error: the pinned crew may be off today; the job is dropped with that reason.
                pass

    def jobs_by_id(self) -> dict[str, Job]:
        return {j.id: j for j in self.jobs}

    def drop_penalty(self, job: Job) -> int:
        s = self.settings
        if job.must_do:
            return s.must_do_penalty
        return int(s.drop_penalty_base * (2 ** (job.priority - 1)) * (1.0 + max(0.0, job.lateness_days)))


@dataclass
class Visit:
    job_id: str
    location_index: int
    arrival: int
    start: int  # service begins (≥ arrival: the difference is waiting)
    departure: int
    wait: int
    slack: int  # how much later service could start without breaking this or a later window
    travel_seconds: int  # from the previous stop (or depot)
    travel_metres: int


@dataclass
class SolvedRoute:
    """One crew's solved day (visits with times, breaks, totals); saved as a routing.models.Route by planning."""

    crew_id: str
    start_index: int
    end_index: int
    start_time: int
    end_time: int
    visits: list[Visit]
    breaks: list[tuple[int, int]]  # (start, duration)
    drive_seconds: int
    distance_metres: int
    service_seconds: int
    wait_seconds: int

    @property
    def job_ids(self) -> list[str]:
        return [v.job_id for v in self.visits]


@dataclass
class Dropped:
    job_id: str
    reason: DropReason
    detail: str


@dataclass
class Solution:
    routes: list[SolvedRoute]
    dropped: list[Dropped]
    objective: int | None
    status: str
    wall_seconds: float
    stats: dict[str, object] = field(default_factory=dict)

    @property
    def assigned_job_ids(self) -> set[str]:
        return {v.job_id for r in self.routes for v in r.visits}

    def route_of(self, crew_id: str) -> SolvedRoute | None:
        return next((r for r in self.routes if r.crew_id == crew_id), None)

    def dropped_reason(self, job_id: str) -> DropReason | None:
        return next((d.reason for d in self.dropped if d.job_id == job_id), None)


@dataclass
class CrewState:
    """Where a crew is now, for re-planning during the day."""

    crew_id: str
    position_index: int
    available_from: int  # when it can start new work (after an in-progress stop, if any)
    locked_job_ids: Sequence[str] = ()  # must stay with this crew, visited first, in this order
    off_shift: bool = False  # going off shift: its remaining stops go to the others
