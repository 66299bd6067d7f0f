"""Point-in-polygon lookups against the boundary layers: which ward, which community area.

`ward_at(point, on=date)` answers from the ward map in force on that date, so a request filed in
2021 keeps its 2015-map ward after the 2023 redistricting. Each answer carries the distance to the
nearest edge so callers can warn on boundary cases, and a point outside every polygon gets an
"outside" answer with the distance to the city, never an exception deep in the stack.

Every lookup, single or set-based, goes through one query (`areas_at`) on the ST_Subdivide parts tables
(GiST-indexed small polygons), with one rule for what is inside the city.
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

from layers import point_index
from layers.coords import checked_lonlat, lonlat
from layers.importing import BOUNDARY_MODELS
from layers.memo import remembered
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
    # Set when the point is outside every polygon but within the city's edge slack of this one.
    outside_by_m: float | None = None

    @property
    def near_edge(self) -> bool:
        return (
            self.inside
            and self.edge_distance_m is not None
            and self.edge_distance_m < settings.WARD_EDGE_WARNING_METRES
        )

    @property
    def message(self) -> str:
        label = settings.CITY_DISTRICT_WORD if self.kind == LayerKind.WARDS else "community area"
        if not self.inside:
            dist = f" ({self.edge_distance_m:,.0f} m from the nearest {label})" if self.edge_distance_m else ""
            return f"outside the city: the point is in no {label} of '{self.layer_name}'{dist}"
        text = f"{label} {self.number}"
        if self.also_covering:
            others = ", ".join(str(n) for n in self.also_covering)
            text += f" (the point lies on the edge it shares with {label} {others})"
        elif self.outside_by_m is not None:
            text += f" ({self.outside_by_m:.0f} m outside its line, within the city's edge: check the location)"
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
            "outside_by_m": None if self.outside_by_m is None else round(self.outside_by_m, 1),
            "message": self.message,
        }


def version_in_force(kind: str, on: dt.date | None = None) -> LayerVersion:
    """The active version of `kind` whose effective range holds `on` (default: today, city time)."""
    day = on or timezone.localdate()
    version = LayerVersion.objects.of_kind(kind).active().in_force_on(day).order_by("-effective_from", "-id").first()
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


def _active_versions() -> list[tuple[int, str, str, dt.date | None, dt.date | None]]:
    return remembered(
        "layers:active",
        lambda: list(
            LayerVersion.objects.filter(active=True).values_list("pk", "kind", "name", "effective_from", "effective_to")
        ),
    )


def _remembered_in_force(kind: str, day: dt.date) -> tuple[int, str] | None:
    """(id, name) of the `kind` map in force on `day`, picked as `version_in_force` and _VERSION_IN_FORCE_SQL
    pick it, from the remembered list of active versions (layers.memo): no query on a warm process."""
    rows = [
        r for r in _active_versions() if r[1] == kind and (r[3] is None or r[3] <= day) and (r[4] is None or r[4] > day)
    ]
    if not rows:
        return None
    best = max(rows, key=lambda r: (r[3] is not None, r[3] or dt.date.min, r[0]))
    return best[0], best[2]


def _area_lookup(kind: str, day: dt.date, version: tuple[int, str], hit: AreaHit) -> AreaLookup:
    return AreaLookup(
        kind=kind,
        on=day,
        layer_version_id=version[0],
        layer_name=version[1],
        number=hit.number,
        name=hit.name,
        inside=hit.number is not None,
        edge_distance_m=hit.edge_distance_m,
        also_covering=hit.also_covering,
        outside_by_m=hit.outside_by_m,
    )


def lookups_at(
    kind: str, points: Sequence[Point], on: dt.date | None = None, *, with_edge_distance: bool = False
) -> list[AreaLookup]:
    """Set-based `ward_at`/`community_area_at`: one AreaLookup per point, in input order (one query)."""
    if not points:
        return []
    day = on or timezone.localdate()
    version, hits = areas_at(kind, [lonlat(p) for p in points], day, with_edge_distance=with_edge_distance)
    return [_area_lookup(kind, day, version, hit) for hit in hits]


def ward_at(point: Point, on: dt.date | None = None, *, with_edge_distance: bool = True) -> AreaLookup:
    """The ward holding `point` on the map in force on `on` (default today, in the city's time zone).

    A point on the edge two wards share answers with the lower-numbered one and names the other in
    `also_covering`, so the choice is deterministic and visible. A point just outside every ward (within the
    city's edge slack) is the nearest ward's: see `areas_at`.
    """
    day = on or timezone.localdate()
    version, hits = areas_at(LayerKind.WARDS, [lonlat(point)], day, with_edge_distance=with_edge_distance)
    return _area_lookup(LayerKind.WARDS, day, version, hits[0])


def community_area_at(point: Point, *, with_edge_distance: bool = True) -> AreaLookup:
    """The community area holding `point` (community areas have one active map)."""
    day = timezone.localdate()
    version, hits = areas_at(LayerKind.COMMUNITY_AREAS, [lonlat(point)], day, with_edge_distance=with_edge_distance)
    return _area_lookup(LayerKind.COMMUNITY_AREAS, day, version, hits[0])


def numbers_at(kind: str, points: Sequence[Point], on: dt.date | None = None) -> list[int | None]:
    """Set-based lookup: one query for many points, answers in input order (None = outside the city)."""
    if not points:
        return []
    _, hits = areas_at(kind, [lonlat(p) for p in points], on, with_edge_distance=False)
    return [hit.number for hit in hits]


def wards_at(points: Sequence[Point], on: dt.date | None = None) -> list[int | None]:
    return numbers_at(LayerKind.WARDS, points, on)


@dataclass(frozen=True)
class AreaHit:
    number: int | None
    name: str
    edge_distance_m: float | None  # to the nearest edge of the area found (or to the nearest area, outside)
    also_covering: tuple[int, ...] = ()  # other areas covering the point: it lies on a shared edge
    outside_by_m: float | None = None  # set when the point lies outside every area but within the edge slack


def areas_with_edges(
    kind: str, places: Sequence[tuple[float, float]], on: dt.date | None = None, *, with_edge_distance: bool = True
) -> list[AreaHit]:
    """Set-based `ward_at` for (lon, lat) pairs, answers in input order."""
    if not places:
        return []
    return areas_at(kind, places, on, with_edge_distance=with_edge_distance)[1]


def areas_at(
    kind: str,
    places: Sequence[tuple[float, float]],
    on: dt.date | None = None,
    *,
    with_edge_distance: bool = True,
    slack_m: float | None = None,
) -> tuple[tuple[int, str], list[AreaHit]]:
    """The one point-in-area query: ((version id, name), one AreaHit per place in input order).

    One rule for "inside the city": a place covered by an area is in it (on a shared edge, the lowest number,
    the others in `also_covering`); a place outside every area but within `slack_m` (settings.CITY_EDGE_SLACK_METRES)
    of one is in the nearest (a corner on the city limit, a boundary street's centreline); anything further is
    outside. Parts tables (ST_Subdivide, GiST) answer the cover test. The edge distance is measured from the
    closest point of the boundary found in plane coordinates to the point on the sphere: exact for that boundary
    point, and a few metres at most from the true nearest, which is all a warning needs.
    """
    day = on or timezone.localdate()
    if not with_edge_distance and settings.LAYERS_IN_PROCESS_LOOKUP:
        return _areas_in_process(kind, places, day, slack_m)
    return _areas_sql(kind, places, day, with_edge_distance, slack_m)


def _areas_in_process(
    kind: str, places: Sequence[tuple[float, float]], day: dt.date, slack_m: float | None
) -> tuple[tuple[int, str], list[AreaHit]]:
    """Points inside exactly one area answered from this process's index of the version in force
    (layers.point_index); the rest (edges, outside, none loaded) by the SQL rule, so answers never differ."""
    checked = [checked_lonlat(lon, lat) for lon, lat in places]
    version = _remembered_in_force(kind, day)
    if version is None:
        return _areas_sql(kind, checked, day, False, slack_m)  # says which layer to load
    idx = point_index.index_for(kind, version[0], *_tables(kind))
    numbers = point_index.single_covers(idx, checked)
    hits: list[AreaHit | None] = [AreaHit(n, idx.names[n], None) if n is not None else None for n in numbers]
    rest = [i for i, h in enumerate(hits) if h is None]
    if rest:
        _, answered = _areas_sql(kind, [checked[i] for i in rest], day, False, slack_m)
        for i, hit in zip(rest, answered, strict=True):
            hits[i] = hit
    return version, [h for h in hits if h is not None]


def _areas_sql(
    kind: str,
    places: Sequence[tuple[float, float]],
    day: dt.date,
    with_edge_distance: bool,
    slack_m: float | None,
) -> tuple[tuple[int, str], list[AreaHit]]:
    slack = float(settings.CITY_EDGE_SLACK_METRES if slack_m is None else slack_m)
    area_table, part_table, part_fk = _tables(kind)
    lons, lats = zip(*(checked_lonlat(lon, lat) for lon, lat in places), strict=True)
    edge = (
        "ST_Distance(ST_ClosestPoint(ST_Boundary(a.geom), t.pt)::geography, t.pt::geography, false)"
        if with_edge_distance
        else "NULL::float8"
    )
    look_near = "true" if with_edge_distance or slack > 0 else "false"
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH v AS ({_VERSION_IN_FORCE_SQL}),
            t AS (SELECT i, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt
                  FROM unnest(%(lons)s::float8[], %(lats)s::float8[]) WITH ORDINALITY AS u(lon, lat, i))
            SELECT t.i, v.id, v.name, hit.number, hit.name, hit.edge, near.number, near.name, near.dist
            FROM v CROSS JOIN t
            LEFT JOIN LATERAL (
                SELECT DISTINCT ON (a.number) a.number, a.name, {edge} AS edge
                FROM {part_table} p JOIN {area_table} a ON a.id = p.{part_fk}
                WHERE p.layer_version_id = v.id AND ST_Covers(p.geom, t.pt)
                ORDER BY a.number
            ) hit ON true
            LEFT JOIN LATERAL (
                SELECT o.number, o.name,
                       ST_Distance(ST_ClosestPoint(o.geom, t.pt)::geography, t.pt::geography, false) AS dist
                FROM {area_table} o WHERE hit.number IS NULL AND o.layer_version_id = v.id
                ORDER BY o.geom <-> t.pt LIMIT 1
            ) near ON {look_near}
            ORDER BY t.i, hit.number
            """,
            {"kind": kind, "day": day, "lons": list(lons), "lats": list(lats)},
        )
        rows = cur.fetchall()
    if not rows:
        version_in_force(kind, day)  # raises LayerNotLoaded with the fix
    version = (int(rows[0][1]), str(rows[0][2]))
    by_place: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_place.setdefault(int(row[0]), []).append(row)
    return version, [_hit(by_place[i], slack, with_edge_distance) for i in range(1, len(places) + 1)]


def _hit(rows: list[tuple[Any, ...]], slack: float, with_edge_distance: bool) -> AreaHit:
    first = rows[0]
    number, name, edge, near_number, near_name, near_dist = first[3:]
    if number is not None:
        return AreaHit(
            number, name or "", None if edge is None else float(edge), also_covering=tuple(r[3] for r in rows[1:])
        )
    if near_number is not None and near_dist is not None and float(near_dist) <= slack:
        return AreaHit(near_number, near_name or "", 0.0 if with_edge_distance else None, outside_by_m=float(near_dist))
    return AreaHit(None, "", float(near_dist) if with_edge_distance and near_dist is not None else None)


def district_codes(version_id: int | None = None) -> dict[int, str]:
    """number → the district's identifier as its source writes it ("District 3B"), for one version of the
    district map (default: the map in force; none loaded, none), where it is not the plain number: one query,
    for the pages that name districts."""
    if version_id is None:
        try:
            version_id = version_in_force(LayerKind.WARDS).pk
        except LayerNotLoaded:
            return {}
    rows = Ward.objects.filter(layer_version_id=version_id).exclude(code="").values_list("number", "code")
    return {n: c for n, c in rows if c != str(n)}


def district_code(number: int | None, codes: dict[int, str]) -> str | None:
    """District `number` as its map writes it ("09410", "District 3B"), from that map's `district_codes`, else
    the number as text; None with no district."""
    return None if number is None else codes.get(number) or str(number)
