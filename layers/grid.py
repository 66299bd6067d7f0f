"""An address-grid model: house number → position along each axis, for cities numbered on a grid.

Configured by a fixture (fixtures/<city>/grid.toml): the grid streets and their numbers on the axis they
cross, and an optional rule for numbered streets. Calibrated on the street layer itself: a grid street's
position is the median of its points across the axis (its latitude for an east-west street), so the model
follows the real map, not an assumed 800-per-mile spacing. Between calibration points it interpolates
piecewise-linearly (positions must rise with numbers: out-of-order points are dropped); beyond the last
points it extends the nearest segment.

Within one hundred-block the numbers do not spread evenly: lots are numbered from the hundred line at a
steady step, so the first house is already some way in and a block's numbers often stop well before the
next hundred (Chicago's residential blocks end near 60). `BlockProfile` says where number r past the
hundred line sits, as a share of the block; it is fitted on the city's address points (isotonic: shares
rise with r) and is linear (r / 100) where there are too few to fit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from layers.manifests import read_toml
from layers.normalize import COUNTING_UP, NORTH_SOUTH


class GridError(ValueError):
    pass


@dataclass
class Axis:
    numbers: np.ndarray  # signed house numbers (north / east positive), increasing
    positions: np.ndarray  # latitude (north-south axis) or longitude (east-west axis)
    # Past its ends a street's own axis goes on at its own overall scale (a line through all its points)
    # when they span `long_span` numbers, else follows the citywide axis from its last own point: one short
    # end segment (a wide State St) extended for a mile put numbers a kilometre off. Chosen on one half of
    # the 311 addresses (split by CRC-32 of the address) against the end-segment and citywide-only rules.
    beyond: Axis | None = None
    long_span: float = 800.0

    def position(self, signed_number: float) -> float:
        x, y = self.numbers, self.positions
        if len(x) < 2:
            raise GridError("the grid needs at least two calibration streets on each axis")
        if self.beyond is not None and not x[0] <= signed_number <= x[-1]:
            end = 0 if signed_number < x[0] else -1
            if len(x) >= 3 and x[-1] - x[0] >= self.long_span:  # enough of its own: its overall scale
                return float(y[end] + self.overall_slope * (signed_number - x[end]))
            if len(self.beyond.numbers) >= 2:  # a short stretch: the citywide shape from its last own point
                return float(y[end] + self.beyond.position(signed_number) - self.beyond.position(float(x[end])))
        if signed_number < x[0]:
            return float(y[0] + (signed_number - x[0]) * (y[1] - y[0]) / (x[1] - x[0]))
        if signed_number > x[-1]:
            return float(y[-1] + (signed_number - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2]))
        return float(np.interp(signed_number, x, y))

    @cached_property
    def overall_slope(self) -> float:
        """Position per number of a least-squares line through all the axis's points."""
        return float(np.polyfit(self.numbers, self.positions, 1)[0])


@dataclass
class BlockProfile:
    """Share of a hundred-block (0 at its hundred line, 1 at the next) where number r past the line sits."""

    remainders: np.ndarray  # knots, increasing
    shares: np.ndarray  # non-decreasing
    source: str = "linear: no address points to fit on"
    samples: int = 0

    def share(self, remainder: float) -> float:
        return float(np.interp(remainder, self.remainders, self.shares))  # flat beyond the end knots

    def remainder(self, share: float) -> float:
        """The inverse (for reverse geocoding): the number past the hundred line at a share of the block."""
        knots, rems = self.shares, self.remainders
        if share <= knots[0]:
            return float(rems[0])
        if share >= knots[-1]:
            return float(rems[-1])
        i = int(np.searchsorted(knots, share, side="right"))
        lo, hi = knots[i - 1], knots[i]
        t = 0.0 if hi == lo else (share - lo) / (hi - lo)
        return float(rems[i - 1] + t * (rems[i] - rems[i - 1]))

    def describe(self) -> str:
        knots = ", ".join(f"{r:.0f}→{s:.2f}" for r, s in zip(self.remainders, self.shares, strict=True))
        return f"{self.source} ({self.samples} points): {knots}"


LINEAR_BLOCK = BlockProfile(np.array([0.0, 100.0]), np.array([0.0, 1.0]))


def fit_block_profile(
    samples: list[tuple[float, float]],
    block: float = 100.0,
    *,
    bin_width: float = 10.0,
    min_bin: int = 20,
    min_points: int = 200,
) -> BlockProfile:
    """Fit where numbers sit in their block from known points: `samples` are (number past the hundred line,
    share of the block where the point lies). Per bin of numbers the median share (a building's centroid on
    a long frontage must not drag the curve), made non-decreasing by isotonic regression weighted by the
    bin's count. Too few points (or bins) give the linear profile: better no fit than a fit on noise."""
    from scipy.optimize import isotonic_regression  # imported here: slow to load, only a calibration needs it

    usable = [(r, min(1.0, max(0.0, s))) for r, s in samples if 0 <= r < block and -0.25 <= s <= 1.25]
    if len(usable) < min_points:
        return BlockProfile(
            np.array([0.0, block]),
            np.array([0.0, 1.0]),
            samples=len(usable),
            source=f"linear: {len(usable)} address points, fewer than {min_points} to fit on",
        )
    rems, shares, weights = [], [], []
    for lo in np.arange(0.0, block, bin_width):
        inside = [(r, s) for r, s in usable if lo <= r < lo + bin_width]
        if len(inside) >= min_bin:
            rems.append(float(np.median([r for r, _ in inside])))
            shares.append(float(np.median([s for _, s in inside])))
            weights.append(float(len(inside)))
    if len(rems) < 2:
        return BlockProfile(
            np.array([0.0, block]),
            np.array([0.0, 1.0]),
            samples=len(usable),
            source="linear: the address points fill fewer than two bins",
        )
    fitted = list(np.asarray(isotonic_regression(shares, weights=weights).x, dtype=float))
    if rems[0] > 0:  # down to the hundred line the first two knots' trend goes on (the first bin's median is ~4)
        slope = (fitted[1] - fitted[0]) / (rems[1] - rems[0]) if rems[1] > rems[0] else 0.0
        rems.insert(0, 0.0)
        fitted.insert(0, max(0.0, fitted[0] - slope * rems[1]))
    return BlockProfile(np.array(rems), np.array(fitted), samples=len(usable), source="fitted on the address points")


@dataclass
class Grid:
    north_south: Axis  # number → latitude
    east_west: Axis  # number → longitude
    # The grid streets by axis (key → signed number), for local calibration along one street.
    ns_streets: dict[str, float] = field(default_factory=dict)  # east-west streets: number north (+) / south (-)
    ew_streets: dict[str, float] = field(default_factory=dict)  # north-south streets: number east (+) / west (-)
    even_side: dict[str, str] = field(default_factory=dict)  # {"NS": "W", "EW": "N"}: where even numbers are
    setback_m: float = 0.0
    numbered_type: str = ""  # the type a numbered street has when none is given ("ST")
    block: float = 100.0  # numbers to a block: each hundred starts at a grid line
    profile: BlockProfile = field(default_factory=lambda: LINEAR_BLOCK)
    # Minor streets found to lie on a hundred line (layers/geocoding.py _derive_grid_streets): crossed by at
    # least this many grid streets that read it within `derive_tolerance` numbers of one hundred. 0: none.
    derive_min_corners: int = 0
    derive_tolerance: float = 0.0


def local_axis(
    points: list[tuple[float, float]], beyond: Axis | None = None, long_span: float = 800.0, kink: float | None = None
) -> Axis | None:
    """An axis from one street's own corners with grid streets (None with fewer than two); past its ends it
    follows `beyond` (the citywide axis). With `kink` (a position difference), an inner point further than that
    from the line between its neighbours is dropped, the worst first: a grid street that drifts off its
    line (Lake St is 200 N downtown but near 390 N at the city's west edge) must not bend the whole block."""
    axis = _axis(list(points))
    if kink is not None:
        numbers, positions = list(axis.numbers), list(axis.positions)
        while len(numbers) >= 3:
            worst, off = 0, 0.0
            for i in range(1, len(numbers) - 1):
                t = (numbers[i] - numbers[i - 1]) / (numbers[i + 1] - numbers[i - 1])
                gap = abs(positions[i] - (positions[i - 1] + t * (positions[i + 1] - positions[i - 1])))
                if gap > off:
                    worst, off = i, gap
            if off <= kink:
                break
            del numbers[worst], positions[worst]
        axis = Axis(np.array(numbers), np.array(positions))
    axis.beyond, axis.long_span = beyond, long_span
    return axis if len(axis.numbers) >= 2 else None


def _axis(points: list[tuple[float, float]]) -> Axis:
    points.sort()
    kept: list[tuple[float, float]] = []
    for n, p in points:  # keep positions rising with numbers (a mis-named street must not fold the map)
        if not kept or (n > kept[-1][0] and p > kept[-1][1]):
            kept.append((n, p))
    return Axis(np.array([n for n, _ in kept]), np.array([p for _, p in kept]))


def calibrate(path: Path, streets: Mapping[str, np.ndarray]) -> Grid:
    """`streets`: street key ("ASHLAND AVE") → (n, 2) lon/lat points of that street on the street layer."""
    data = read_toml(path, GridError, "grid file")
    ns = [
        (float(n), float(np.median(streets[k][:, 1]))) for k, n in data.get("north_south", {}).items() if k in streets
    ]
    ew = [(float(n), float(np.median(streets[k][:, 0]))) for k, n in data.get("east_west", {}).items() if k in streets]
    ns_streets = {k: float(n) for k, n in data.get("north_south", {}).items()}
    ew_streets = {k: float(n) for k, n in data.get("east_west", {}).items()}
    rule = data.get("numbered_streets")
    if rule:  # "79TH ST" is 79 x per_number on its axis: a line of the grid and a named street at once
        sign = 1.0 if rule.get("direction", "S") in COUNTING_UP else -1.0
        pattern = re.compile(r"^(\d+)(?:ST|ND|RD|TH) (" + "|".join(rule.get("types", ["ST"])) + ")$")
        on_ns = rule.get("direction", "S") in NORTH_SOUTH
        target, named, col = (ns, ns_streets, 1) if on_ns else (ew, ew_streets, 0)
        for key, pts in streets.items():
            m = pattern.match(key)
            if m:
                signed = sign * int(m.group(1)) * float(rule.get("per_number", 100))
                target.append((signed, float(np.median(pts[:, col]))))
                named[key] = signed
    return Grid(
        north_south=_axis(ns),
        east_west=_axis(ew),
        ns_streets=ns_streets,
        ew_streets=ew_streets,
        even_side=dict(data.get("even_side", {})),
        setback_m=float(data.get("setback_m", 0.0)),
        numbered_type=str((rule or {}).get("types", [""])[0]),
        block=float(data.get("block_numbers", 100)),
        derive_min_corners=int(data.get("derive_min_corners", 0)),
        derive_tolerance=float(data.get("derive_tolerance", 0.0)),
    )
