"""The grid's place for a house number, moved as its street's nearest known address points on the same side are
moved from the grid's places for theirs.

A grid file says where 1200 falls along a street and puts every number one setback from the centreline; the
buildings do not agree. Downtown a building's address point is its centroid, 40 m and more from the kerb, and a
tower's whole frontage carries one number. Where the city has address points, the nearest ones on the same
street and side (by number) say how far that stretch's buildings stand from where the grid would put them, so a
number between no two known points is put where the grid says, plus that local offset. Nothing here is fitted
to one city: with no address points, or none near enough in number, the grid's place stands.
"""

from __future__ import annotations

from collections.abc import Callable

from layers.geocoding.base import Index
from layers.normalize import NORTH_SOUTH

# Only known points within this many numbers of the one placed say anything about its stretch: further, the
# next building line, or the next block's, is another story. Chosen on half of Chicago's Loop address points
# (streets split by a hash of their name; the other half scored, benchmarks/geocode_eval.py).
REACH = 50


def nudged(
    idx: Index, key: str, number: int, direction: str, grid_at: Callable[[int], tuple[float, float] | None]
) -> tuple[float, float] | None:
    """The grid's place for `number` on `key` (`grid_at(m)` is the grid's place for number m, None where it has
    none) moved across the street by the mean offset of the nearest known points on the same side within REACH
    numbers. Across only: along the street the grid is right for the number, and a neighbour's position along
    the street is its own frontage's, not this one's (moving along too placed fewer within 25 m)."""
    spot = grid_at(number)
    if spot is None:
        return None
    near = [
        p
        for p in idx.along.get(key, ())
        if p[0] % 2 == number % 2 and p[0] != number and abs(p[0] - number) <= REACH and (not p[1] or p[1] == direction)
    ]
    if not near:
        return spot
    gap = min(abs(p[0] - number) for p in near)
    offsets = [(x - there[0], y - there[1]) for m, _d, x, y in near if abs(m - number) == gap and (there := grid_at(m))]
    if not offsets:
        return spot
    if direction in NORTH_SOUTH:  # a north-south street's across is east-west
        return spot[0] + sum(o[0] for o in offsets) / len(offsets), spot[1]
    return spot[0], spot[1] + sum(o[1] for o in offsets) / len(offsets)
