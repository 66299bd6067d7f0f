"""An address-grid model: house number → position along each axis, for cities numbered on a grid.

Configured by a fixture (fixtures/<city>/grid.toml): the grid streets and their numbers on the axis they
cross, and an optional rule for numbered streets. Calibrated on the street layer itself: a grid street's
position is the median of its points across the axis (its latitude for an east-west street), so the model
follows the real map, not an assumed 800-per-mile spacing. Between calibration points it interpolates
piecewise-linearly (positions must rise with numbers: out-of-order points are dropped); beyond the last
points it extends the nearest segment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from layers.manifests import read_toml


class GridError(ValueError):
    pass


@dataclass
class Axis:
    numbers: np.ndarray  # signed house numbers (north / east positive), increasing
    positions: np.ndarray  # latitude (north-south axis) or longitude (east-west axis)

    def position(self, signed_number: float) -> float:
        x, y = self.numbers, self.positions
        if len(x) < 2:
            raise GridError("the grid needs at least two calibration streets on each axis")
        if signed_number < x[0]:
            return float(y[0] + (signed_number - x[0]) * (y[1] - y[0]) / (x[1] - x[0]))
        if signed_number > x[-1]:
            return float(y[-1] + (signed_number - x[-1]) * (y[-1] - y[-2]) / (x[-1] - x[-2]))
        return float(np.interp(signed_number, x, y))


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

    def latitude(self, number: int, direction: str) -> float:
        return self.north_south.position(number if direction == "N" else -number)

    def longitude(self, number: int, direction: str) -> float:
        return self.east_west.position(number if direction == "E" else -number)


def local_axis(points: list[tuple[float, float]]) -> Axis | None:
    """An axis from one street's own corners with grid streets (None with fewer than two)."""
    axis = _axis(list(points))
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
    ns = [(float(n), float(np.median(streets[k][:, 1]))) for k, n in data.get("north_south", {}).items()
          if k in streets]
    ew = [(float(n), float(np.median(streets[k][:, 0]))) for k, n in data.get("east_west", {}).items()
          if k in streets]
    rule = data.get("numbered_streets")
    if rule:
        sign = -1.0 if rule.get("direction", "S") in ("S", "W") else 1.0
        pattern = re.compile(r"^(\d+)(?:ST|ND|RD|TH) (" + "|".join(rule.get("types", ["ST"])) + ")$")
        target = ns if rule.get("direction", "S") in ("N", "S") else ew
        col = 1 if target is ns else 0
        for key, pts in streets.items():
            m = pattern.match(key)
            if m:
                target.append((sign * int(m.group(1)) * float(rule.get("per_number", 100)),
                               float(np.median(pts[:, col]))))
    ns_streets = {k: float(n) for k, n in data.get("north_south", {}).items()}
    ew_streets = {k: float(n) for k, n in data.get("east_west", {}).items()}
    if rule:
        for key in streets:
            m = re.match(r"^(\d+)(?:ST|ND|RD|TH) (" + "|".join(rule.get("types", ["ST"])) + ")$", key)
            if m:
                signed = (-1.0 if rule.get("direction", "S") in ("S", "W") else 1.0) * int(m.group(1)) * float(
                    rule.get("per_number", 100))
                (ns_streets if rule.get("direction", "S") in ("N", "S") else ew_streets)[key] = signed
    return Grid(north_south=_axis(ns), east_west=_axis(ew), ns_streets=ns_streets, ew_streets=ew_streets,
                even_side=dict(data.get("even_side", {})), setback_m=float(data.get("setback_m", 0.0)),
                numbered_type=str((rule or {}).get("types", [""])[0]))
