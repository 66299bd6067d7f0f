"""House numbers on a street without a grid: placed from the street's own address points on either side of
the number (or the two nearest on one side, a little past the last), at the city's own metres per number; a
street with one known point is numbered the way its parallel neighbours run (layers.geocoding.heading).

A city without a numbered grid still numbers each street in order along it; what a grid file says for the
whole city (where 1200 falls), a street's known points say for that street. The city's metres per number is
read off its address points (the median over neighbouring points of one street), so nothing here is fitted
to one city: Chicago's 800 numbers a mile and San Francisco's 100 a short block both come out of the data.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable

from layers.geocoding.base import Index, Result, _metres
from layers.geocoding.heading import from_lone_point
from layers.normalize import ParsedAddress

# Two points are one run of one street only if they are no further apart than this many times the city's
# metres per number for their numbers' gap, plus SLACK_M (a bend, a wide lot, a point at the door).
CONSISTENT_FACTOR = 2.0
SLACK_M = 60.0
# Past the last known point a number is placed only this far on (metres): further, the street may bend,
# end or change its numbering, and the street-level answer is the honest one. 300 was chosen over 200, 300,
# 400 and 800 on San Francisco's tuning half of addresses (address_learning.split_half 0; the benchmark
# scores half 1): the most placed with at most 3 % more than 150 m off.
EXTRAPOLATE_M = 300.0
NEXT_DOOR_M = 40.0  # a street's only nearby point answers for a number this close to its own (in metres)
# A lone point is carried along its neighbours' heading at most this far (metres): 200 placed as many as 300 on
# the same tuning half, 120 fewer.
LONE_REACH_M = 200.0
MAX_GAP = 1000  # numbers: two points further apart in number than this say little about the run between


def metres_per_number(along: dict[str, list[tuple[int, str, float, float]]]) -> float | None:
    """The city's median metres per house number over neighbouring points of one street and direction (None
    with fewer than 20 such pairs: too few to say)."""
    rates: list[float] = []
    for row in along.values():
        for (n0, d0, x0, y0), (n1, d1, x1, y1) in itertools.pairwise(row):
            if d0 == d1 and 2 <= n1 - n0 <= MAX_GAP:
                rates.append(_metres((x0, y0), (x1, y1)) / (n1 - n0))
    return statistics.median(rates) if len(rates) >= 20 else None


def consistent(rate: float, a: tuple[int, str, float, float], b: tuple[int, str, float, float]) -> bool:
    """Whether two points of one street are as far apart as their numbers say (at most twice the city's
    metres per number for their gap, plus SLACK_M)."""
    gap = abs(b[0] - a[0])
    if gap == 0 or gap > MAX_GAP:
        return False
    return _metres((a[2], a[3]), (b[2], b[3])) <= CONSISTENT_FACTOR * rate * gap + SLACK_M


def _between(
    n: int, rate: float, below: list[tuple[int, str, float, float]], above: list[tuple[int, str, float, float]]
) -> tuple[float, float] | None:
    """Between the nearest points either side, the same side of the street (parity) first, then any."""
    for same_side in (True, False):
        lo = next((p for p in reversed(below) if not same_side or p[0] % 2 == n % 2), None)
        hi = next((p for p in above if not same_side or p[0] % 2 == n % 2), None)
        if lo is not None and hi is not None and consistent(rate, lo, hi):
            t = (n - lo[0]) / (hi[0] - lo[0])
            return lo[2] + t * (hi[2] - lo[2]), lo[3] + t * (hi[3] - lo[3])
    return None


def _past_the_end(
    idx: Index, key: str, n: int, rate: float, nearest: Iterable[tuple[int, str, float, float]]
) -> tuple[float, float] | None:
    """On from the nearest point, in the direction given by the neighbour (by number) furthest from it that
    still agrees with it: two points a few numbers apart give a direction too rough to carry far. A point
    with no agreeing neighbour is carried along the heading the parallel streets around it give."""
    ordered = sorted(nearest, key=lambda p: abs(p[0] - n))
    if not ordered or abs(ordered[0][0] - n) * rate > EXTRAPOLATE_M:
        return None
    a = ordered[0]
    agreeing = [b for b in ordered[1:] if b[0] != a[0] and consistent(rate, a, b)]
    if not agreeing:
        # A lone point a few doors away is the best place there is, and near enough to be useful.
        if abs(a[0] - n) * rate <= NEXT_DOOR_M:
            return a[2], a[3]
        return from_lone_point(idx, key, n, a, LONE_REACH_M)
    b = max(agreeing, key=lambda p: abs(p[0] - a[0]))
    t = (n - a[0]) / (b[0] - a[0])
    return a[2] + t * (b[2] - a[2]), a[3] + t * (b[3] - a[3])


def along_street(idx: Index, parsed: ParsedAddress, keys: list[str], match: float, text: str) -> Result | None:
    """The number placed from its street's address points (no grid needed), or None when they cannot say."""
    assert parsed.street is not None and parsed.number is not None
    rate = idx.metres_per_number
    if rate is None:
        return None
    n = parsed.number
    for key in keys:
        same = [
            p
            for p in idx.along.get(key, ())
            if not parsed.street.direction or not p[1] or p[1] == parsed.street.direction
        ]
        below = [p for p in same if p[0] < n]
        above = [p for p in same if p[0] > n]
        spot = _between(n, rate, below, above)
        score = 0.9
        if spot is None:
            spot, score = _past_the_end(idx, key, n, rate, below[-3:] + above[:3]), 0.8
        if spot is not None:
            d = parsed.street.direction
            return Result(
                text,
                "matched",
                "interpolated",
                spot[0],
                spot[1],
                match * score,
                address=f"{n} {d + ' ' if d else ''}{key}",
            )
    return None
