"""Where a number lies along a street: the street's own axis (its corners with the grid streets), filled from
the parallel grid streets where it has none near the number, and the set-back to the parity's side.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from layers.coords import offset_degrees
from layers.geocoding.base import (
    COVER_SLACK_M,
    KINK_BLOCKS,
    LOCAL_TRUST_M,
    M_PER_DEG,
    NEIGHBOUR_REACH_BLOCKS,
    OWN_GAP_BLOCKS,
    Index,
    _metres,
    _stretch,
)
from layers.grid import Axis, GridError, local_axis
from layers.normalize import COUNTING_UP


def _hundred(idx: Index, axis: Axis, number: int, direction: str) -> tuple[float, float, float]:
    """Positions of the two corners around the number on `axis` and how far past the first it is, in a
    hundred-block's numbers. The corners are the number's hundred line and the next, unless the axis has a
    corner between them (Wabash Ave at 45 E cuts State to Michigan's block in two): a corner is a corner,
    and the block profile spans corner to corner."""
    sign = 1 if direction in COUNTING_UP else -1
    block = idx.grid.block
    low, high = _stretch(axis, float(number), sign, block)
    rem = (number - low) / (high - low) * block
    return axis.position(sign * low), axis.position(sign * high), rem


def _position(idx: Index, axis: Axis, number: int, direction: str) -> float:
    """Where a number lies along an axis: its hundred line, then the block profile's share of the block."""
    p0, p1, rem = _hundred(idx, axis, number, direction)
    return p0 + idx.grid.profile.share(rem) * (p1 - p0)


def _place_on_street(pts: np.ndarray, axis: str, value: float) -> tuple[float, float] | None:
    """Where a street crosses latitude (axis "lat") or longitude `value`: between its nearest points either side."""
    col, other = (1, 0) if axis == "lat" else (0, 1)
    slack = COVER_SLACK_M / M_PER_DEG / (1.0 if axis == "lat" else math.cos(math.radians(float(pts[0, 1]))))
    coord = pts[:, col]
    if value < coord.min() - slack or value > coord.max() + slack:
        return None
    below = pts[coord <= value]
    above = pts[coord >= value]
    if len(below) == 0 or len(above) == 0:
        p = pts[np.argmin(np.abs(coord - value))]
        out = [0.0, 0.0]
        out[col], out[other] = value, float(p[other])
        return (out[0], out[1])
    b = below[np.argmax(below[:, col])]
    a = above[np.argmin(above[:, col])]
    span = a[col] - b[col]
    t = 0.0 if span == 0 else (value - b[col]) / span
    out = [0.0, 0.0]
    out[col] = value
    out[other] = float(b[other] + t * (a[other] - b[other]))
    return (out[0], out[1])


def _along(coords: list[tuple[float, float]], t: float, side: str, setback_m: float) -> tuple[float, float]:
    """The point a share `t` of the way along a line, moved `setback_m` to its left or right."""
    pairs = list(itertools.pairwise(coords))
    lengths = [_metres(a, b) for a, b in pairs]
    target = max(0.0, min(1.0, t)) * sum(lengths)
    for i, ((a, b), seg) in enumerate(zip(pairs, lengths, strict=True)):
        if target <= seg or i == len(pairs) - 1:
            f = 0.0 if seg == 0 else min(1.0, target / seg)
            x, y = a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])
            kx = M_PER_DEG * math.cos(math.radians(y))
            dx, dy = (b[0] - a[0]) * kx, (b[1] - a[1]) * M_PER_DEG
            norm = math.hypot(dx, dy) or 1.0
            sign = 1.0 if side == "L" else -1.0  # left of the direction of travel
            dlon, dlat = offset_degrees(sign * (-dy / norm) * setback_m, sign * (dx / norm) * setback_m, y)
            return x + dlon, y + dlat
        target -= seg
    return coords[-1]


def _corner(idx: Index, mine: set[int], other: str, on_ns: bool) -> tuple[float, float] | None:
    """Where a street (its corner ids `mine`) meets `other`: the position along the axis (latitude for a
    north-south number, longitude for an east-west one; the median where a wide street meets it twice) and
    the latitude of one of those corners. None where they do not meet."""
    common = mine & idx.nodes_of.get(other, set())
    if not common:
        return None
    coords = np.array([idx.node_xy[n] for n in common])
    return float(np.median(coords[:, 1 if on_ns else 0])), float(coords[0, 1])


def _local_axis(idx: Index, key: str, on_ns: bool) -> Axis | None:
    """Number → position along `key` from its own corners with the grid streets crossing it (the grid is not
    perfectly square: a street's own corners beat the citywide median)."""
    cache_key = (key, on_ns)
    if cache_key not in idx.local:
        grid_streets = idx.grid.ns_streets if on_ns else idx.grid.ew_streets
        mine = idx.nodes_of.get(key, set())
        points = []
        for other, number in grid_streets.items():
            corner = _corner(idx, mine, other, on_ns)
            if corner is not None:
                position, latitude = corner
                # A corner far from where the citywide grid puts that number is not on the grid line (a street
                # that bends away from it): trust it no more than the grid.
                try:
                    expected = (idx.grid.north_south if on_ns else idx.grid.east_west).position(number)
                except GridError:
                    expected = position  # no citywide grid to check against
                metres = abs(position - expected) * M_PER_DEG * (1.0 if on_ns else math.cos(math.radians(latitude)))
                if metres <= LOCAL_TRUST_M:
                    points.append((number, position))
        typical = idx.typical_block
        kink = None
        if typical and points:
            scale = M_PER_DEG * (1.0 if on_ns else math.cos(math.radians(idx.middle(key)[1])))
            kink = KINK_BLOCKS * typical / scale
        idx.local[cache_key] = local_axis(
            points, idx.grid.north_south if on_ns else idx.grid.east_west, long_span=8 * idx.grid.block, kink=kink
        )
    return idx.local[cache_key]


def _street_axis(idx: Index, key: str, on_ns: bool, signed: float | None = None) -> Axis:
    """Number → position for `key`: its own corners with grid streets where it has them near the number, else
    its nearest parallel grid streets' own axes (a short street takes its numbers from the streets beside it;
    so does a street in pieces, between its pieces), else the citywide grid."""
    own = _local_axis(idx, key, on_ns)
    if own is not None and (signed is None or _own_gap(own, signed) <= OWN_GAP_BLOCKS * idx.grid.block):
        return own if signed is None else _filled(idx, key, on_ns, own, signed)
    hundred = "" if signed is None else str(int(signed // idx.grid.block))  # neighbours chosen per hundred
    cache_key = (f"~{key}~{hundred}", on_ns)
    if cache_key not in idx.local:
        idx.local[cache_key] = _neighbour_axis(idx, key, on_ns, signed)
    return idx.local[cache_key] or own or (idx.grid.north_south if on_ns else idx.grid.east_west)


def _filled(idx: Index, key: str, on_ns: bool, own: Axis, signed: float) -> Axis:
    """`own` with the gap around `signed` shaped like the streets beside it: where the street skips a hundred
    line (it does not cross Roosevelt Rd, or a park cuts it), its two corners either side stay where they
    are and the hundred lines between them fall where the parallel grid streets have them, scaled to fit.
    Blocks are not equal (the South Loop's are 70 m near 11th St, 200 m elsewhere): a straight line between
    two distant corners puts the numbers between them 100 m off."""
    nums = own.numbers
    if not nums[0] < signed < nums[-1]:
        return own
    i = int(np.searchsorted(nums, signed))
    lo, hi = float(nums[i - 1]), float(nums[i])
    if hi - lo <= idx.grid.block:
        return own
    cache_key = (f"+{key}+{lo}", on_ns)
    if cache_key not in idx.local:
        filled = own
        beside = _neighbour_axis(idx, key, on_ns, (lo + hi) / 2)
        if beside is not None:
            inner = [float(n) for n in beside.numbers if lo < n < hi]
            b_lo, b_hi = beside.position(lo), beside.position(hi)
            if inner and b_hi != b_lo:
                p_lo, p_hi = own.position(lo), own.position(hi)
                scale = (p_hi - p_lo) / (b_hi - b_lo)
                extra = [(n, p_lo + (beside.position(n) - b_lo) * scale) for n in inner]
                filled = Axis(
                    np.array([*nums[:i], *[n for n, _ in extra], *nums[i:]]),
                    np.array([*own.positions[:i], *[p for _, p in extra], *own.positions[i:]]),
                    beyond=own.beyond,
                    long_span=own.long_span,
                )
        idx.local[cache_key] = filled
    return idx.local[cache_key] or own


def _own_gap(axis: Axis, signed: float) -> float:
    """How far (in numbers) a number is from the axis's own points: past its ends, the distance to the last
    one; inside, half the gap between the two around it."""
    x = axis.numbers
    if signed <= x[0]:
        return float(x[0] - signed)
    if signed >= x[-1]:
        return float(signed - x[-1])
    i = int(np.searchsorted(x, signed))
    return float(x[i] - x[i - 1]) / 2


def _neighbour_axis(idx: Index, key: str, on_ns: bool, signed: float | None) -> Axis | None:
    """The own axes of the best parallel grid street on each side of `key` (within NEIGHBOUR_REACH_BLOCKS
    typical blocks), blended: "best" and the weights count the distance across to it plus how far the number
    is from its own corners, both in metres (a street beside it that stops short of the number is worth
    less than one a little further that reaches it); one side alone if the other has none."""
    if not idx.typical_block:
        return None
    across = 0 if on_ns else 1  # parallel streets lie apart in longitude (north-south streets) or latitude
    mine = idx.middle(key)[across]
    scale = M_PER_DEG * (math.cos(math.radians(idx.middle(key)[1])) if on_ns else 1.0)
    reach = NEIGHBOUR_REACH_BLOCKS * idx.typical_block
    per_number = idx.typical_block / idx.grid.block  # metres
    family = idx.grid.ew_streets if on_ns else idx.grid.ns_streets  # the grid streets running the same way
    below: tuple[float, Axis] | None = None
    above: tuple[float, Axis] | None = None
    for other in family:
        if other == key or other not in idx.streets:
            continue
        gap = (idx.middle(other)[across] - mine) * scale
        axis = _local_axis(idx, other, on_ns) if abs(gap) <= reach else None
        if axis is None:
            continue
        cost = abs(gap) + (0.0 if signed is None else _own_gap(axis, signed) * per_number)
        if gap <= 0 and (below is None or cost < below[0]):
            below = (cost, axis)
        if gap > 0 and (above is None or cost < above[0]):
            above = (cost, axis)
    if below is None or above is None:
        side = below or above
        return side[1] if side else None
    numbers = np.union1d(below[1].numbers, above[1].numbers)
    w = above[0] / (above[0] + below[0]) if above[0] + below[0] > 0 else 0.5  # the cheaper side weighs more
    positions = np.array([w * below[1].position(float(n)) + (1 - w) * above[1].position(float(n)) for n in numbers])
    return Axis(
        numbers, positions, beyond=idx.grid.north_south if on_ns else idx.grid.east_west, long_span=8 * idx.grid.block
    )


def _setback(idx: Index, spot: tuple[float, float], number: int, on_ns: bool) -> tuple[float, float]:
    """Move off the centreline to the side the number's parity is on (buildings, not the middle of the road)."""
    g = idx.grid
    if not g.setback_m or not g.even_side:
        return spot
    even = number % 2 == 0
    if on_ns:  # a north-south street: sides are east and west
        side = g.even_side.get("NS", "W")
        west = (side == "W") == even
        dlon = offset_degrees(g.setback_m, 0.0, spot[1])[0]
        return (spot[0] - dlon if west else spot[0] + dlon, spot[1])
    side = g.even_side.get("EW", "N")
    north = (side == "N") == even
    dlat = offset_degrees(0.0, g.setback_m, spot[1])[1]
    return (spot[0], spot[1] + dlat if north else spot[1] - dlat)


def _signed_at(idx: Index, axis: Axis, value: float) -> float:
    """The signed house number (north / east positive) at a position on an axis: the inverse of `_position`,
    the block profile included."""
    nums, pos = axis.numbers, axis.positions
    if value <= pos[0]:
        signed = nums[0] + (value - pos[0]) * (nums[1] - nums[0]) / (pos[1] - pos[0])
    elif value >= pos[-1]:
        signed = nums[-1] + (value - pos[-1]) * (nums[-1] - nums[-2]) / (pos[-1] - pos[-2])
    else:
        signed = float(np.interp(value, pos, nums))
    sign = 1 if signed >= 0 else -1
    block = idx.grid.block
    low, high = _stretch(axis, abs(float(signed)), sign, block)
    p0, p1 = axis.position(sign * low), axis.position(sign * high)
    if p1 == p0:
        return float(signed)
    return sign * (low + idx.grid.profile.remainder((value - p0) / (p1 - p0)) * (high - low) / block)
