"""Which way a street's house numbers run, and how fast, read off its parallel neighbours.

Why: a street with one known address point says where one number is, not which way the others go, so a number
a block away could only be answered at street level. Most cities number neighbouring parallel streets the same
way (away from a common base line: a river, a main street, the bay), so the known runs of the streets around
it carry the answer: each pair of neighbouring points on a parallel street votes for a heading, and their
metres per number give the local rate. Nothing here is fitted to one city: where the neighbours disagree,
or too few are near, there is no heading and the answer stays at street level.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from layers.coords import local_plane, offset_degrees
from layers.geocoding.base import Index, _metres

# Runs of other streets whose middle is this close vote. 1000 was chosen over 400, 600 and 1500 on San Francisco's
# tuning half of addresses (address_learning.split_half 0; the benchmark scores half 1): the most placed (1500
# placed no more), with no more than 150 m off.
NEIGHBOUR_REACH_M = 1000.0
AXIS_REACH_M = 300.0  # the street's own corners this close to the point give its axis there
PARALLEL_COS = math.cos(math.radians(20))  # a run within 20 degrees of the axis (either way) is parallel
MIN_VOTES = 3
AGREEMENT = 0.8  # share of the votes the heading needs
MIN_RUN_M = 20.0  # two points closer than this give too rough a heading
MAX_RUN_NUMBERS = 400  # numbers: a pair further apart may span a bend or a change of numbering


@dataclass(frozen=True)
class Runs:
    """Every pair of neighbouring address points of one street: its middle and unit heading (towards the
    higher number) in a local plane, its metres per number and its street."""

    lat0: float
    middle: np.ndarray  # (m, 2) metres
    heading: np.ndarray  # (m, 2) unit vectors
    rate: np.ndarray  # (m,) metres per number
    street: np.ndarray  # (m,) street key


def runs(idx: Index) -> Runs:
    """The index's runs, built on first use and kept on the index (it is per street-layer version)."""
    if idx.runs is not None:
        return idx.runs
    lats = [p[3] for row in idx.along.values() for p in row]
    lat0 = float(np.median(lats)) if lats else 0.0
    pairs = [
        (p, q, key)
        for key, row in idx.along.items()
        for p, q in itertools.pairwise(row)
        if p[1] == q[1] and 0 < q[0] - p[0] <= MAX_RUN_NUMBERS
    ]
    a = local_plane([(p[2], p[3]) for p, _, _ in pairs], lat0)
    b = local_plane([(q[2], q[3]) for _, q, _ in pairs], lat0)
    length = np.hypot(*(b - a).T)
    keep = length >= MIN_RUN_M
    a, b, length = a[keep], b[keep], length[keep]
    gaps = np.array([q[0] - p[0] for p, q, _ in pairs], dtype=float)[keep]
    built = Runs(
        lat0=lat0,
        middle=(a + b) / 2,
        heading=(b - a) / length[:, None],
        rate=length / gaps,
        street=np.array([key for _, _, key in pairs], dtype=object)[keep],
    )
    idx.runs = built
    return built


def _axis(idx: Index, key: str, at: tuple[float, float], lat0: float) -> np.ndarray | None:
    """The street's direction near `at` (a unit vector, either way): the main axis of its corners within
    AXIS_REACH_M; None with fewer than two."""
    near = [idx.node_xy[i] for i in idx.nodes_of.get(key, ()) if i in idx.node_xy]
    near = [p for p in near if _metres(p, at) <= AXIS_REACH_M]
    if len(near) < 2:
        return None
    pts = local_plane(near, lat0)
    pts -= pts.mean(axis=0)
    if float(np.abs(pts).max()) < 1.0:
        return None  # corners on one spot (a street listed twice there) give no direction
    _, _, vt = np.linalg.svd(pts, full_matrices=False)
    return np.asarray(vt[0], dtype=float)


def numbers_heading(idx: Index, key: str, at: tuple[float, float]) -> tuple[np.ndarray, float, float] | None:
    """(unit heading towards higher numbers, metres per number, the plane's lat0) on `key` at `at`, from the
    parallel runs of other streets around it; None when they are too few or disagree."""
    r = runs(idx)
    if not len(r.rate):
        return None
    axis = _axis(idx, key, at, r.lat0)
    if axis is None:
        return None
    here = local_plane([at], r.lat0)[0]
    near = (np.hypot(*(r.middle - here).T) <= NEIGHBOUR_REACH_M) & (r.street != key)
    dots = r.heading[near] @ axis
    parallel = np.abs(dots) >= PARALLEL_COS
    votes = np.sign(dots[parallel])
    if len(votes) < MIN_VOTES:
        return None
    ahead = int((votes > 0).sum())
    sign = 1.0 if ahead * 2 >= len(votes) else -1.0
    if max(ahead, len(votes) - ahead) < AGREEMENT * len(votes):
        return None
    agreeing = votes == sign
    return axis * sign, float(np.median(r.rate[near][parallel][agreeing])), r.lat0


def from_lone_point(
    idx: Index, key: str, n: int, point: tuple[int, str, float, float], reach_m: float
) -> tuple[float, float] | None:
    """Number `n` placed from the street's one known point along the heading its neighbours give, at their
    metres per number; None without a heading, or when that lands further than `reach_m` from the point."""
    found = numbers_heading(idx, key, (point[2], point[3]))
    if found is None:
        return None
    heading, rate, lat0 = found
    shift = (n - point[0]) * rate
    if abs(shift) > reach_m:
        return None
    east, north = heading * shift
    dlon, dlat = offset_degrees(float(east), float(north), lat0)
    return point[2] + dlon, point[3] + dlat
