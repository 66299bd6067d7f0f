"""Solomon-format VRPTW instances: read them into a `Problem`, re-check routes in double precision.

Used by benchmarks/solomon.py and the regression test. Distances are Euclidean in double precision and
travel time equals distance (Solomon's convention). The integer model scales by SCALE and rounds travel
*up*, so any route feasible for the solver is feasible with exact distances too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.problem import CrewSpec, Job, Matrix, Problem, SolverSettings, TimeWindow

SCALE = 1000


@dataclass
class Customer:
    number: int
    x: float
    y: float
    demand: int
    ready: float
    due: float
    service: float


@dataclass
class Instance:
    name: str
    vehicles: int
    capacity: int
    depot: Customer
    customers: list[Customer]

    @property
    def points(self) -> list[Customer]:
        return [self.depot, *self.customers]

    def distances(self) -> np.ndarray:
        xy = np.array([(c.x, c.y) for c in self.points])
        return np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))


def read_solomon(path: Path) -> Instance:
    lines = [ln.strip() for ln in path.read_text().replace("\r", "").splitlines()]
    name = lines[0]
    i = next(k for k, ln in enumerate(lines) if ln.startswith("NUMBER"))
    vehicles, capacity = (int(v) for v in lines[i + 1].split())
    rows = []
    for ln in lines[i + 2 :]:
        parts = ln.split()
        if len(parts) == 7 and parts[0].isdigit():
            n, x, y, q, r, d, s = parts
            rows.append(Customer(int(n), float(x), float(y), int(float(q)), float(r), float(d), float(s)))
    if not rows or rows[0].number != 0:
        raise ValueError(f"{path}: no depot (customer 0) found")
    return Instance(name=name, vehicles=vehicles, capacity=capacity, depot=rows[0], customers=rows[1:])


def to_problem(inst: Instance, settings: SolverSettings | None = None) -> Problem:
    dist = inst.distances()
    seconds = np.ceil(dist * SCALE - 1e-9).astype(np.int64)
    metres = np.rint(dist * SCALE).astype(np.int64)
    crews = [
        CrewSpec(
            id=str(k),
            start_index=0,
            shift_start=int(inst.depot.ready * SCALE),
            shift_end=int(inst.depot.due * SCALE),
            capacity=inst.capacity,
        )
        for k in range(inst.vehicles)
    ]
    jobs = [
        Job(
            id=str(c.number),
            location_index=c.number,
            service_seconds=round(c.service * SCALE),
            windows=[TimeWindow(round(c.ready * SCALE), round(c.due * SCALE))],
            demand=c.demand,
        )
        for c in inst.customers
    ]
    return Problem(
        crews=crews, jobs=jobs, matrix=Matrix(seconds=seconds, metres=metres), settings=settings or SolverSettings()
    )


@dataclass
class RouteCheck:
    feasible: bool
    distance: float
    vehicles: int
    missing: list[int]
    problems: list[str]


def check_routes(inst: Instance, routes: list[list[int]]) -> RouteCheck:
    """Feasibility (windows, capacity, depot due, every customer once) and distance, in double precision."""
    dist = inst.distances()
    by_number = {c.number: c for c in inst.points}
    problems: list[str] = []
    seen: list[int] = []
    total = 0.0
    used = 0
    for r, route in enumerate(routes):
        if not route:
            continue
        used += 1
        t, load, prev = inst.depot.ready, 0, 0
        for c in route:
            cust = by_number[c]
            d = dist[prev, c]
            total += d
            t = max(cust.ready, t + d)
            if t > cust.due + 1e-6:
                problems.append(f"route {r}: customer {c} served at {t:.2f} after its due time {cust.due}")
            t += cust.service
            load += cust.demand
            prev = c
            seen.append(c)
        total += dist[prev, 0]
        if t + dist[prev, 0] > inst.depot.due + 1e-6:
            problems.append(f"route {r}: back at the depot at {t + dist[prev, 0]:.2f} after {inst.depot.due}")
        if load > inst.capacity:
            problems.append(f"route {r}: load {load} over capacity {inst.capacity}")
    missing = sorted(set(c.number for c in inst.customers) - set(seen))
    dupes = len(seen) - len(set(seen))
    if dupes:
        problems.append(f"{dupes} customer visits repeated")
    if used > inst.vehicles:
        problems.append(f"{used} routes for a fleet of {inst.vehicles}")
    return RouteCheck(
        feasible=not problems and not missing, distance=total, vehicles=used, missing=missing, problems=problems
    )


def gap_pct(distance: float, best_known: float) -> float:
    return 100.0 * (distance - best_known) / best_known if best_known else math.nan
