"""Point-in-polygon lookups against the boundary layers: which ward, which community area.

`ward_at(point, on=date)` answers from the ward map in force on that date, so a request filed in
2021 keeps its 2015-map ward after the 2023 redistricting. Each answer carries the distance to the
nearest edge so callers can warn on boundary cases, and a point outside every polygon gets an
"outside" answer with the distance to the city, never an exception deep in the stack.

All lookups go through the ST_Subdivide parts tables (GiST-indexed small polygons); the whole-polygon
path is kept for the benchmark that measures the difference.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone

from layers.coords import checked_lonlat, lonlat
from layers.importing import BOUNDARY_MODELS
from layers.models import LayerKind, LayerVersion, Ward


class LayerNotLoaded(LookupError):
    """No active layer of this kind is in force on the date asked: a set-up problem, with its fix."""


@dataclass(frozen=True)
class AreaLookup:
    kind: str
    on: dt.date
    layer_version_id: int
    layer_name: str
    number: int | None
    name: str
    inside: bool
    # Metres to the nearest edge of the polygon found (inside) or to the nearest polygon (outside).
    edge_distance_m: float | None
    # Other polygons that also cover the point: it lies exactly on a shared edge.
    also_covering: tuple[int, ...] = ()

    @property
    def near_edge(self) -> bool:
        return (
            self.inside
            and self.edge_distance_m is not None
            and self.edge_distance_m < settings.WARD_EDGE_WARNING_METRES
        )

    @property
    def message(self) -> str:
        label = "ward" if self.kind == LayerKind.WARDS else "community area"
        if not self.inside:
            dist = f" ({self.edge_distance_m:,.0f} m from the nearest {label})" if self.edge_distance_m else ""
            return f"outside the city: the point is in no {label} of '{self.layer_name}'{dist}"
        text = f"{label} {self.number}"
        if self.also_covering:
            others = ", ".join(str(n) for n in self.also_covering)
            text += f" (the point lies on the edge it shares with {label} {others})"
        elif self.near_edge:
            text += f" (within {self.edge_distance_m:.0f} m of a {label} edge: check the location)"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": str(self.kind),
            "on": self.on.isoformat(),
            "layer_version": self.layer_version_id,
            "layer_name": self.layer_name,
            "inside": self.inside,
            "number": self.number,
            "name": self.name,
            "edge_distance_m": None if self.edge_distance_m is None else round(self.edge_distance_m, 1),
            "near_edge": self.near_edge,
            "also_covering": list(self.also_covering),
            "message": self.message,
        }


def version_in_force(kind: str, on: dt.date | None = None) -> LayerVersion:
    """The active version of `kind` whose effective range holds `on` (default: today, city time)."""
    day = on or timezone.localdate()
    version = (
        LayerVersion.objects.of_kind(kind).active().in_force_on(day).order_by("-effective_from", "-id").first()
    )
    if version is None:
        raise LayerNotLoaded(
            f"no active {kind} layer is in force on {day.isoformat()}: load one with "
            f"`manage.py load_layers` (or `import_boundaries --kind {kind} --activate`) and check its "
            "effective dates in the admin"
        )
    return version


def _tables(kind: str) -> tuple[str, str, str]:
    area_model, part_model, part_fk = BOUNDARY_MODELS[kind]
    return area_model._meta.db_table, part_model._meta.db_table, part_fk


_VERSION_IN_FORCE_SQL = """
    SELECT id, name FROM layers_layerversion
    WHERE kind = %(kind)s AND active
      AND (effective_from IS NULL OR effective_from <= %(day)s)
      AND (effective_to IS NULL OR effective_to > %(day)s)
    ORDER BY effective_from DESC NULLS LAST, id DESC
    LIMIT 1
"""


def _area_at(kind: str, point: Point, on: dt.date | None, with_edge_distance: bool) -> AreaLookup:
    """One round trip: choose the version in force, find the covering polygons, measure the edge."""
    day = on or timezone.localdate()
    area_table, part_table, part_fk = _tables(kind)
    lon, lat = lonlat(point)
    # Distance on the sphere (not the spheroid): ~0.3 % error, several times cheaper, ample for a warning.
    point_sql = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"
    edge = (
        f"ST_Distance(ST_Boundary(a.geom)::geography, {point_sql}::geography, false)"
        if with_edge_distance
        else "NULL::float8"
    )
    params: dict[str, Any] = {"kind": kind, "day": day, "lon": lon, "lat": lat}
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH v AS ({_VERSION_IN_FORCE_SQL}),
            hits AS (
                SELECT DISTINCT a.id, a.number, a.name
                FROM v JOIN {part_table} p ON p.layer_version_id = v.id
                JOIN {area_table} a ON a.id = p.{part_fk}
                WHERE ST_Covers(p.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))
            ),
            first AS (SELECT * FROM hits ORDER BY number LIMIT 1)
            SELECT v.id, v.name,
                   (SELECT array_agg(number ORDER BY number) FROM hits),
                   (SELECT name FROM first),
                   (SELECT {edge} FROM first JOIN {area_table} a ON a.id = first.id)
            FROM v
            """,
            params,
        )
        row = cur.fetchone()
        if row is None:
            version_in_force(kind, day)  # raises LayerNotLoaded with the fix
        version_id, version_name, numbers, name, distance = row
        if numbers:
            return AreaLookup(
                kind=kind, on=day, layer_version_id=version_id, layer_name=version_name,
                number=numbers[0], name=name or "", inside=True,
                edge_distance_m=None if distance is None else float(distance),
                also_covering=tuple(numbers[1:]),
            )
        distance = None
        if with_edge_distance:
            cur.execute(
                f"""
                SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography)
                FROM {area_table} WHERE layer_version_id = %(version)s
                ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) LIMIT 1
                """,
                {**params, "version": version_id},
            )
            found = cur.fetchone()
            distance = float(found[0]) if found else None
    return AreaLookup(
        kind=kind, on=day, layer_version_id=version_id, layer_name=version_name,
        number=None, name="", inside=False, edge_distance_m=distance,
    )


def ward_at(point: Point, on: dt.date | None = None, *, with_edge_distance: bool = True) -> AreaLookup:
    """The ward holding `point` on the map in force on `on` (default today, in the city's time zone).

    A point on the edge two wards share answers with the lower-numbered one and names the other in
    `also_covering`, so the choice is deterministic and visible.
    """
    return _area_at(LayerKind.WARDS, point, on, with_edge_distance)


def community_area_at(point: Point, *, with_edge_distance: bool = True) -> AreaLookup:
    """The community area holding `point` (community areas have one active map)."""
    return _area_at(LayerKind.COMMUNITY_AREAS, point, None, with_edge_distance)


def numbers_at(
    kind: str, points: Sequence[Point], on: dt.date | None = None, *, use_parts: bool = True
) -> list[int | None]:
    """Set-based lookup: one query for many points, answers in input order (None = outside)."""
    if not points:
        return []
    if use_parts:
        return [hit.number for hit in areas_with_edges(kind, [lonlat(p) for p in points], on,
                                                       with_edge_distance=False)]
    day = on or timezone.localdate()
    area_table, _, _ = _tables(kind)
    lons, lats = zip(*(lonlat(p) for p in points), strict=True)
    inner = (
        f"SELECT a.number FROM {area_table} a "
        "WHERE a.layer_version_id = v.id AND ST_Covers(a.geom, t.pt) ORDER BY a.number LIMIT 1"
    )
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH v AS ({_VERSION_IN_FORCE_SQL})
            SELECT t.i, ({inner})
            FROM v, (SELECT i, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt
                     FROM unnest(%(lons)s::float8[], %(lats)s::float8[]) WITH ORDINALITY AS u(lon, lat, i)) t
            ORDER BY t.i
            """,
            {"kind": kind, "day": day, "lons": list(lons), "lats": list(lats)},
        )
        rows = cur.fetchall()
    if not rows:
        version_in_force(kind, day)  # raises LayerNotLoaded with the fix
    return [row[1] for row in rows]


def wards_at(points: Sequence[Point], on: dt.date | None = None) -> list[int | None]:
    return numbers_at(LayerKind.WARDS, points, on)


def ward_number_whole_polygon(point: Point, on: dt.date | None = None) -> int | None:
    """Single lookup against the unsubdivided polygons; kept only so the benchmark can compare."""
    return numbers_at(LayerKind.WARDS, [point], on, use_parts=False)[0]


def nearest_ward(point: Point, within_m: float, on: dt.date | None = None) -> int | None:
    """The ward within `within_m` metres of a point just outside every ward (a corner on the city limit)."""
    version = version_in_force(LayerKind.WARDS, on)
    with connection.cursor() as cur:
        cur.execute(f"SELECT number FROM {Ward._meta.db_table} WHERE layer_version_id = %s AND "
                    f"ST_DWithin(geom::geography, ST_GeogFromText(%s), %s) "
                    f"ORDER BY ST_Distance(geom::geography, ST_GeogFromText(%s)) LIMIT 1",
                    [version.pk, point.ewkt, within_m, point.ewkt])
        row = cur.fetchone()
    return int(row[0]) if row else None


@dataclass(frozen=True)
class AreaHit:
    number: int | None
    name: str
    edge_distance_m: float | None  # to the nearest edge of the area found (or to the nearest area, outside)


def areas_with_edges(kind: str, places: Sequence[tuple[float, float]], on: dt.date | None = None, *,
                     with_edge_distance: bool = True) -> list[AreaHit]:
    """Set-based `ward_at`: one query for many (lon, lat), answers in input order. The edge distance is measured
    from the closest point of the boundary found in plane coordinates to the point on the sphere: exact for
    that boundary point, and a few metres at most from the true nearest, which is all a warning needs (the
    geography distance to a whole ward outline costs ~2 ms a point)."""
    if not places:
        return []
    day = on or timezone.localdate()
    area_table, part_table, part_fk = _tables(kind)
    lons, lats = zip(*(checked_lonlat(lon, lat) for lon, lat in places), strict=True)
    edge = ("ST_Distance(ST_ClosestPoint(ST_Boundary(a.geom), t.pt)::geography, t.pt::geography, false)"
            if with_edge_distance else "NULL::float8")
    outside = ("(SELECT ST_Distance(ST_ClosestPoint(o.geom, t.pt)::geography, t.pt::geography, false) "
               f"FROM {area_table} o WHERE o.layer_version_id = v.id ORDER BY o.geom <-> t.pt LIMIT 1)"
               if with_edge_distance else "NULL::float8")
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH v AS ({_VERSION_IN_FORCE_SQL})
            SELECT t.i, hit.number, hit.name, COALESCE(hit.edge, {outside})
            FROM v CROSS JOIN (SELECT i, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt
                               FROM unnest(%(lons)s::float8[], %(lats)s::float8[]) WITH ORDINALITY AS u(lon, lat, i)) t
            LEFT JOIN LATERAL (
                SELECT a.number, a.name, {edge} AS edge FROM {part_table} p JOIN {area_table} a ON a.id = p.{part_fk}
                WHERE p.layer_version_id = v.id AND ST_Covers(p.geom, t.pt) ORDER BY a.number LIMIT 1
            ) hit ON true
            ORDER BY t.i
            """,
            {"kind": kind, "day": day, "lons": list(lons), "lats": list(lats)},
        )
        rows = cur.fetchall()
    if not rows:
        version_in_force(kind, day)  # raises LayerNotLoaded with the fix
    return [AreaHit(number, name or "", None if d is None else float(d)) for _, number, name, d in rows]
