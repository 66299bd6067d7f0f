"""The city map's vector tiles: Mapbox Vector Tiles built by PostGIS (ST_AsMVT) from our own layers.

Why tiles: every page draws the whole city at every zoom (wards, community areas, thousands of street edges).
As GeoJSON that is megabytes and a slow browser; as tiles each view asks for a handful of small, pre-clipped,
pre-simplified pieces, and a tile once built is served from the cache until a layer version changes.

One tile carries five layers:
- `areas`: ward and community-area outlines (`kind`, `number`, `name`);
- `area_labels`: one point per area, where its number is written (drawn by the page as text, not as a dot);
- `streets`: street edges with `name` and `class` (minor streets only from MINOR_STREETS_ZOOM in);
- `street_labels`: from LABEL_ZOOM in, one point per street name per tile, on the longest stretch of that
  street in the tile that is long enough to hold its name, with `angle`, the street's direction there in
  screen degrees (-90 up to 90, so no name is upside down; a north-south street reads upwards);
- `attribution`: nothing drawn, the licences of the layers in the tile are in TileJSON (`tilejson()`).

Where an exact street network (an OSM extract) covers the tile, the approximate citywide one is left out, as
in `basemap._streets`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection

from layers.importing import BOUNDARY_MODELS
from layers.lookup import LayerNotLoaded, version_in_force
from layers.models import LayerKind, LayerVersion, StreetEdge
from layers.normalize import TYPES

MIN_ZOOM = 8
MAX_ZOOM = 20
MINOR_STREETS_ZOOM = 13
LABEL_ZOOM = 15
EXTENT = 4096
BUFFER = 64
# Street classes drawn citywide, before minor streets appear (OSM highway values; an approximate network's
# classes too). A class is "minor" unless its text starts with one of these.
MAJOR_CLASSES = ("motorway", "trunk", "primary", "secondary", "tertiary", "arterial")
# A name needs about this many pixels per character at the label's font size, plus margins.
PX_PER_CHAR = 7.0
LABEL_MARGIN_PX = 24.0
CACHE_SECONDS = 24 * 3600
VERSION_KEY = re.compile(r"[0-9a-f]{16}")


class TileError(ValueError):
    """The z/x/y asked for is not a tile of this map (the message says which range is allowed)."""


TILE_FORMAT = 2  # bumped when a tile's fields change (2: areas carry their code), so no cached tile is stale


@dataclass(frozen=True)
class TileSet:
    """The layer versions a tile is drawn from: its cache key changes when any of them does."""

    areas: tuple[tuple[str, int, str], ...]  # (kind, version id, licence)
    networks: tuple[tuple[int, str], ...]  # (version id, attribution)

    @property
    def key(self) -> str:
        raw = repr((TILE_FORMAT, self.areas, [n for n, _ in self.networks]))
        return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:16]

    def attributions(self) -> list[str]:
        seen: list[str] = []
        for text in [a[2] for a in self.areas] + [n[1] for n in self.networks]:
            if text and text not in seen:
                seen.append(text)
        return seen


def current_tileset() -> TileSet:
    """The boundary versions in force today and the active street networks (one small query per kind)."""
    areas = []
    for kind in BOUNDARY_MODELS:
        try:
            v = version_in_force(kind)
        except LayerNotLoaded:
            continue
        areas.append((str(kind), v.pk, v.licence or v.source))
    nets = [
        (v.pk, str((v.report or {}).get("attribution") or v.licence or v.name))
        for v in LayerVersion.objects.of_kind(LayerKind.STREETS).active().order_by("id")
    ]
    return TileSet(areas=tuple(areas), networks=tuple(nets))


def check_tile(z: int, x: int, y: int) -> None:
    if not MIN_ZOOM <= z <= MAX_ZOOM:
        raise TileError(f"zoom {z} is outside this map's zooms, {MIN_ZOOM} to {MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise TileError(f"at zoom {z}, x and y run from 0 to {n - 1}")


def city_tile(z: int, x: int, y: int, tileset: TileSet | None = None, version_key: str = "") -> bytes:
    """The tile's bytes (possibly empty: a tile outside the city is a valid empty tile), from the cache when
    this tile of these layer versions was built before. A tile URL names its versions' key (`?v=`, from
    TileJSON): a cached tile of that key is served with no database query at all, which is every tile after
    the first view of the city; any other key is looked up as the versions in force."""
    check_tile(z, x, y)
    if VERSION_KEY.fullmatch(version_key):
        hit = cache.get(f"tiles:{version_key}:{z}/{x}/{y}")
        if hit is not None:
            return bytes(hit)
    tileset = tileset or current_tileset()
    key = f"tiles:{tileset.key}:{z}/{x}/{y}"
    hit = cache.get(key)
    if hit is not None:
        return bytes(hit)
    body = build_tile(z, x, y, tileset)
    cache.set(key, body, CACHE_SECONDS)
    return body


def build_tile(z: int, x: int, y: int, tileset: TileSet) -> bytes:
    """One PostGIS statement: every layer clipped to the tile, encoded and concatenated (an MVT is a list of
    layers, so concatenating single-layer tiles is a valid tile)."""
    area_unions = _area_rows_sql(tileset)
    sql = f"""
        WITH bounds AS (
            SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS g3857,
                   ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s), 4326) AS g4326
        ),
        area_rows AS ({area_unions}),
        nets AS (
            SELECT id, COALESCE((report->>'approximate')::bool, false) AS approximate FROM layers_layerversion
            WHERE id = ANY(%(nets)s) AND report ? 'bbox' AND ST_Intersects((SELECT g4326 FROM bounds),
                ST_MakeEnvelope((report->'bbox'->>0)::float8, (report->'bbox'->>1)::float8,
                                (report->'bbox'->>2)::float8, (report->'bbox'->>3)::float8, 4326))
        ),
        chosen AS (
            SELECT id FROM nets WHERE NOT approximate
               OR NOT EXISTS (SELECT 1 FROM nets n2 WHERE NOT n2.approximate)
        ),
        edges AS (
            -- A two-way street is two directed edges on one line: draw and name it once.
            SELECT DISTINCT ON (e.layer_version_id, least(e.u, e.v), greatest(e.u, e.v))
                   e.name, e.street_class, ST_Transform(e.geom, 3857) AS g
            FROM {StreetEdge._meta.db_table} e, bounds
            WHERE e.layer_version_id IN (SELECT id FROM chosen) AND e.geom && bounds.g4326
              AND (%(z)s >= %(minor_zoom)s OR e.street_class ~ %(major)s)
        ),
        areas AS (
            SELECT kind, number, code, name,
                   ST_AsMVTGeom(ST_Boundary(ST_Transform(geom, 3857)), bounds.g3857, %(extent)s, %(buffer)s, true)
                   AS geom
            FROM area_rows, bounds
        ),
        area_labels AS (
            SELECT kind, number, code, name, ST_AsMVTGeom(p, bounds.g3857, %(extent)s, 0, true) AS geom
            FROM (SELECT kind, number, code, name, ST_Transform(ST_PointOnSurface(geom), 3857) AS p FROM area_rows) q,
                 bounds
            WHERE ST_Intersects(p, bounds.g3857)
        ),
        streets AS (
            SELECT name, street_class AS class, ST_AsMVTGeom(g, bounds.g3857, %(extent)s, %(buffer)s, true) AS geom
            FROM edges, bounds
        ),
        {_LABELS_SQL}
        SELECT
            (SELECT COALESCE(ST_AsMVT(areas.*, 'areas', %(extent)s, 'geom'), '') FROM areas
             WHERE geom IS NOT NULL)
         || (SELECT COALESCE(ST_AsMVT(area_labels.*, 'area_labels', %(extent)s, 'geom'), '') FROM area_labels
             WHERE geom IS NOT NULL)
         || (SELECT COALESCE(ST_AsMVT(streets.*, 'streets', %(extent)s, 'geom'), '') FROM streets
             WHERE geom IS NOT NULL)
         || (SELECT COALESCE(ST_AsMVT(street_labels.*, 'street_labels', %(extent)s, 'geom'), '')
             FROM street_labels WHERE geom IS NOT NULL)
    """
    params = _params(z, x, y, tileset)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return bytes(cur.fetchone()[0] or b"")


def _area_rows_sql(tileset: TileSet) -> str:
    """The boundary rows in force that touch the tile, every kind in one relation (kind, number, code, name,
    geom)."""
    return (
        " UNION ALL ".join(
            f"SELECT %(kind{i})s::text AS kind, a.number, COALESCE(NULLIF(a.code, ''), a.number::text) AS code, "
            "a.name, a.geom "
            f"FROM {BOUNDARY_MODELS[kind][0]._meta.db_table} a "
            f"WHERE a.layer_version_id = %(version{i})s AND a.geom && (SELECT g4326 FROM bounds)"
            for i, (kind, _, _) in enumerate(tileset.areas)
        )
        or "SELECT NULL::text, NULL::int, NULL::text, NULL::text, NULL::geometry WHERE false"
    )


def _params(z: int, x: int, y: int, tileset: TileSet) -> dict[str, Any]:
    params: dict[str, Any] = {
        "z": z,
        "x": x,
        "y": y,
        "margin": BUFFER / EXTENT,
        "nets": [pk for pk, _ in tileset.networks] or [0],
        "minor_zoom": MINOR_STREETS_ZOOM,
        "major": "^(" + "|".join(MAJOR_CLASSES) + ")",
        "extent": EXTENT,
        "buffer": BUFFER,
        "label_zoom": LABEL_ZOOM,
        "px_per_char": PX_PER_CHAR,
        "margin_px": LABEL_MARGIN_PX,
        "types": json.dumps({word: short.title() for word, short in TYPES.items()}),
    }
    for i, (kind, pk, _) in enumerate(tileset.areas):
        params[f"kind{i}"], params[f"version{i}"] = kind, pk
    return params


# Street names, written short as on printed maps ("S Dearborn St": leading compass words and the street type
# abbreviated with the address normaliser's table, all-capitals names in title case), so more of them fit.
# Per name, the edges in the tile merged into stretches (ST_LineMerge), clipped to the tile, the longest
# stretch kept if its length in pixels holds the name. The label sits at its middle, turned to the direction
# between the points at 40 % and 60 % of it (a bend at one vertex does not swing the name). An edge whose name
# joins two ("Col 0/Row 0": the street graph merged a corner) is drawn but never names anything.
_LABELS_SQL = r"""
        labelled AS (
            SELECT g, CASE WHEN %(types)s::jsonb ? upper(substring(short from '(\S+)$'))
                           THEN regexp_replace(short, '\S+$',
                                               %(types)s::jsonb ->> upper(substring(short from '(\S+)$')))
                           ELSE short END AS name
            FROM (SELECT g, regexp_replace(CASE WHEN name = upper(name) THEN initcap(name) ELSE name END,
                                        '^(N)orth |^(S)outh |^(E)ast |^(W)est ', '\1\2\3\4 ') AS short
                  FROM edges WHERE %(z)s >= %(label_zoom)s AND name <> '' AND strpos(name, '/') = 0) e
        ),
        merged AS (
            SELECT name, (ST_Dump(ST_LineMerge(ST_Collect(ST_Intersection(g, bounds.g3857))))).geom AS line
            FROM labelled, bounds
            WHERE ST_Intersects(g, bounds.g3857)
            GROUP BY name
        ),
        stretches AS (
            SELECT DISTINCT ON (name) name, line,
                   ST_Length(line) / ((ST_XMax(bounds.g3857) - ST_XMin(bounds.g3857)) / 256.0) AS px
            FROM merged, bounds
            WHERE GeometryType(line) = 'LINESTRING'
            ORDER BY name, ST_Length(line) DESC
        ),
        street_labels AS (
            SELECT name, angle, ST_AsMVTGeom(ST_LineInterpolatePoint(line, 0.5), bounds.g3857, %(extent)s, 0, true)
                   AS geom
            FROM (
                SELECT name, line, px, degrees(atan2(
                    ST_Y(ST_LineInterpolatePoint(line, 0.6)) - ST_Y(ST_LineInterpolatePoint(line, 0.4)),
                    ST_X(ST_LineInterpolatePoint(line, 0.6)) - ST_X(ST_LineInterpolatePoint(line, 0.4)))) AS a
                FROM stretches
            ) s,
            LATERAL (SELECT round(CASE WHEN -a >= 90 THEN -a - 180 WHEN -a < -90 THEN -a + 180 ELSE -a END)::int
                     AS angle) t,
            bounds
            WHERE px >= length(name) * %(px_per_char)s + %(margin_px)s
        )
"""


def tilejson(base_url: str, tileset: TileSet | None = None) -> dict[str, Any]:
    """TileJSON 3.0 for the city map: where its tiles are, which zooms, and whose data they draw."""
    tileset = tileset or current_tileset()
    bounds = _city_bounds(tileset)
    return {
        "tilejson": "3.0.0",
        "name": "City map",
        "version": tileset.key,
        "tiles": [f"{base_url}{{z}}/{{x}}/{{y}}.pbf?v={tileset.key}"],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "attribution": "; ".join(tileset.attributions()),
        "label_zoom": LABEL_ZOOM,
        "vector_layers": [
            {"id": "areas", "fields": {"kind": "String", "number": "Number", "code": "String", "name": "String"}},
            {"id": "area_labels", "fields": {"kind": "String", "number": "Number", "code": "String", "name": "String"}},
            {"id": "streets", "fields": {"name": "String", "class": "String"}},
            {"id": "street_labels", "fields": {"name": "String", "angle": "Number"}},
        ],
    }


def _city_bounds(tileset: TileSet) -> list[float] | None:
    """The lon/lat box of the boundary layers in force (the city), or of the street networks without them."""
    if tileset.areas:
        kind, pk, _ = tileset.areas[0]
        table = BOUNDARY_MODELS[kind][0]._meta.db_table
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                f"(SELECT ST_Extent(geom)::geometry AS e FROM {table} WHERE layer_version_id = %s) q",
                [pk],
            )
            row = cur.fetchone()
            if row and row[0] is not None:
                return [round(float(v), 6) for v in row]
    return None
