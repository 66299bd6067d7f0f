"""What every part of the geocoder shares: its tuning constants, the answer's shape (Result), the index's
shape (Index) and small metric helpers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from layers.coords import M_PER_DEG, local_metres
from layers.grid import Axis, Grid

COVER_SLACK_M = 150.0  # a number may sit a little past the street's last mapped corner


SAME_CORNER_M = 60.0  # corners closer than this are one corner (a wide street listed twice)
# The same two streets meeting twice this close is one crossing with a jog or a divided street (22nd St at
# Potrero Ave, 75 m): answered at its middle. Farther apart (a crescent meeting a street at both ends, 400 m)
# they are two places and the answer is ambiguous. Chosen on San Francisco's tuning half of corners.
JOG_M = 150.0


FUZZY_CUTOFF = 85.0
UNUSED_TEXT_FACTOR = 0.5  # a score is halved when part of the input was not used (stray text, another town)


FUZZY_TIE = 0.03  # typo readings this close to the best one are kept for the house number to decide between


LOCAL_TRUST_M = 400.0  # a street's own corner with a grid street counts if within this of the citywide grid


BETWEEN_POINTS_M = 250.0  # two address points further apart than this are not one stretch to interpolate on


REVERSE_REACH_M = 500.0  # reverse: a corner further than this names nothing (a pin in the lake or out of town)


ADDRESS_POINT_REACH_M = 40.0  # reverse: an address point this close names the place (else the grid's number)


# The block profile is fitted on address points in hundred-blocks of about the city's typical length (its
# citywide grid's median metres per hundred): downtown's half-blocks and superblocks number differently.
# 15 % was chosen on one half of the 311 addresses (split by CRC-32 of the address) over all blocks and 25 %.
TYPICAL_BLOCK_TOLERANCE = 0.15


NEIGHBOUR_REACH_BLOCKS = 8.0  # a parallel grid street further than this says little about a short street


# A street's own corners further apart than this around a number: ask its neighbours instead (16 chosen on
# the same half of the 311 addresses over 4, 8 and never; the figures barely move).
OWN_GAP_BLOCKS = 16.0


KINK_BLOCKS = 1.5  # a grid street's corner this far (typical blocks) off its neighbours' line is off the grid: 1.5


class GeocoderNotReady(RuntimeError):
    """No street layer (or grid) to geocode against; the message says how to load one."""


@dataclass
class Result:
    input: str
    status: str  # matched / ambiguous / unmatched
    kind: str  # point / interpolated / intersection / street / none
    lon: float | None = None
    lat: float | None = None
    score: float = 0.0
    address: str = ""
    ward: int | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "status": self.status,
            "kind": self.kind,
            "lon": None if self.lon is None else round(self.lon, 6),
            "lat": None if self.lat is None else round(self.lat, 6),
            "score": round(self.score, 3),
            "address": self.address,
            "ward": self.ward,
            "candidates": self.candidates,
            **({"message": self.message} if self.message else {}),
        }


@dataclass
class Index:
    version: int
    streets: dict[str, np.ndarray]  # key "ASHLAND AVE" → (n, 2) lon/lat
    by_name: dict[str, list[str]]  # "ASHLAND" → ["ASHLAND AVE"]
    nodes_of: dict[str, set[int]]  # key → node ids
    node_xy: dict[int, tuple[float, float]]
    grid: Grid
    vocabulary: list[str]
    local: dict[tuple[str, bool], Axis | None] = field(default_factory=dict)
    points: dict[tuple[str, int], list[tuple[str, float, float, str]]] = field(default_factory=dict)
    # street key → its address points sorted by number: (number, direction, lon, lat), for interpolating
    along: dict[str, list[tuple[int, str, float, float]]] = field(default_factory=dict)
    # street key → ranged segments (direction, left_from, left_to, right_from, right_to, lzip, rzip, coords)
    ranges: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    zip_of: dict[int, str] = field(default_factory=dict)  # corner id → postcode, where the layer has them
    typical_block: float | None = None  # metres of a hundred-block on the citywide grid (median)
    centre: dict[str, tuple[float, float]] = field(default_factory=dict)  # street key → median lon, lat
    derived: dict[str, float] = field(default_factory=dict)  # grid lines read off the street layer (key → number)
    metres_per_number: float | None = None  # the city's, read off its address points (None: too few to say)
    network_corners: Any = None  # (KD-tree in local metres, [(key, key, lon, lat)]) where named streets meet
    runs: Any = None  # neighbouring address points' headings (layers.geocoding.heading.Runs), built on first use

    @property
    def has_grid(self) -> bool:
        return bool(len(self.grid.north_south.numbers) or len(self.grid.east_west.numbers))

    def middle(self, key: str) -> tuple[float, float]:
        """A street's median point (its label spot, and where it lies across the grid), computed once."""
        if key not in self.centre:
            pts = self.streets[key]
            self.centre[key] = (float(np.median(pts[:, 0])), float(np.median(pts[:, 1])))
        return self.centre[key]


def _stretch(axis: Axis, number: float, sign: int, block: float) -> tuple[float, float]:
    """The unsigned numbers of the corners around `number`: its hundred lines, or the axis's own points
    between them."""
    low = (number // block) * block
    high = low + block
    for k in axis.numbers:
        n = float(k) * sign
        if low < n < high:
            if n <= number:
                low = n
            else:
                high = min(high, n)
    return low, high


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return local_metres(a[0], a[1], b[0], b[1])


def _orientation(pts: np.ndarray) -> str:
    lat_span = (pts[:, 1].max() - pts[:, 1].min()) * M_PER_DEG
    lon_span = (pts[:, 0].max() - pts[:, 0].min()) * M_PER_DEG * math.cos(math.radians(float(pts[0, 1])))
    return "NS" if lat_span >= lon_span else "EW"
