"""Evaluate ward lookups against labelled points and against an independent shapely brute force.

Used by the Chicago end-to-end test (a floor) and by benchmarks/ward_lookup.py (the figures). The
labelled points are an answer key (a 311 export's own ward column), never a layer we look up in.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
import shapely.ops
from django.conf import settings
from django.contrib.gis.geos import Point

from layers.coords import CoordinateError, haversine_m, point_from_lonlat
from layers.lookup import numbers_at, version_in_force, ward_at
from layers.models import LayerKind, Ward


@dataclass(frozen=True)
class LabelledPoint:
    id: str
    point: Point
    ward: int | None  # the source's own answer


def read_labelled_points(
    path: Path, *, id_col: str, lon_col: str, lat_col: str, ward_col: str
) -> tuple[list[LabelledPoint], int]:
    """Rows with a usable lon/lat (column names are parameters: any city's export). Returns (points, rows read)."""
    points: list[LabelledPoint] = []
    rows = 0
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows += 1
            try:
                pt = point_from_lonlat(row.get(lon_col), row.get(lat_col))
            except CoordinateError:
                continue
            raw = (row.get(ward_col) or "").strip()
            ward = int(float(raw)) if raw else None
            points.append(LabelledPoint(id=row[id_col], point=pt, ward=ward))
    return points, rows


class ShapelyWardIndex:
    """The peer and the brute force: an STRtree over the same ward polygons, read from the database."""

    def __init__(self, on: dt.date | None = None) -> None:
        version = version_in_force(LayerKind.WARDS, on)
        wards = list(Ward.objects.filter(layer_version=version).order_by("number").values_list("number", "geom"))
        self.numbers = np.array([n for n, _ in wards])
        self.polygons = np.array([shapely.from_wkb(bytes(g.wkb)) for _, g in wards])
        self.tree = shapely.STRtree(self.polygons)
        shapely.prepare(self.polygons)

    def lookup_many(self, lonlats: np.ndarray) -> list[int | None]:
        """Vectorised: covers() predicate, lowest number wins on a shared edge (the rule ward_at uses)."""
        pts = shapely.points(lonlats)
        point_idx, poly_idx = self.tree.query(pts, predicate="covered_by")
        best: list[int | None] = [None] * len(pts)
        for i, j in zip(point_idx.tolist(), poly_idx.tolist(), strict=True):
            n = int(self.numbers[j])
            current = best[i]
            if current is None or n < current:
                best[i] = n
        return best

    def lookup_one(self, lon: float, lat: float) -> int | None:
        pt = shapely.Point(lon, lat)
        hits = [int(self.numbers[j]) for j in self.tree.query(pt, predicate="covered_by")]
        return min(hits) if hits else None

    def brute_force(self, lon: float, lat: float) -> int | None:
        """No index at all: test every polygon, then the city's edge rule (the nearest polygon within
        settings.CITY_EDGE_SLACK_METRES of a point no polygon covers). The independent reference."""
        pt = shapely.Point(lon, lat)
        hits = [int(n) for n, poly in zip(self.numbers, self.polygons, strict=True) if poly.covers(pt)]
        if hits:
            return min(hits)
        metres, number = min(
            (haversine_m(lon, lat, *shapely.get_coordinates(shapely.ops.nearest_points(poly, pt)[0])[0]), int(n))
            for n, poly in zip(self.numbers, self.polygons, strict=True)
        )
        return number if metres <= settings.CITY_EDGE_SLACK_METRES else None


@dataclass
class WardEvaluation:
    on: dt.date
    rows_read: int
    located: int
    equal_to_brute_force: int
    brute_force_mismatches: list[str] = field(default_factory=list)
    agree_with_source: int = 0
    # (id, ours, source's, metres to the nearest edge of the ward we found or to the city if outside)
    disagreements: list[tuple[str, int | None, int | None, float | None]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"ward map in force on {self.on}: {self.located} located points of {self.rows_read} rows",
            f"  equal to shapely brute force: {self.equal_to_brute_force}/{self.located}",
            f"  equal to the source's ward column: {self.agree_with_source}/{self.located}",
        ]
        for pid, ours, theirs, dist in self.disagreements:
            d = "n/a" if dist is None else f"{dist:.1f} m"
            out.append(f"    {pid}: ours {ours}, source {theirs}, edge distance {d}")
        return out


def evaluate_ward_lookup(points: Sequence[LabelledPoint], rows_read: int, on: dt.date) -> WardEvaluation:
    ours = numbers_at(LayerKind.WARDS, [p.point for p in points], on)
    index = ShapelyWardIndex(on)
    ev = WardEvaluation(on=on, rows_read=rows_read, located=len(points), equal_to_brute_force=0)
    for p, mine in zip(points, ours, strict=True):
        lon, lat = p.point.x, p.point.y
        if index.brute_force(lon, lat) == mine:
            ev.equal_to_brute_force += 1
        else:
            ev.brute_force_mismatches.append(p.id)
        if mine == p.ward:
            ev.agree_with_source += 1
        else:
            dist = ward_at(p.point, on=on).edge_distance_m
            ev.disagreements.append((p.id, mine, p.ward, dist))
    return ev
