"""Basemap outlines drawn from the city's own layers (no tile server, no internet)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.db import connection

from layers.coords import M_PER_DEG
from layers.importing import BOUNDARY_MODELS
from layers.lookup import version_in_force
from layers.models import StreetEdge

# Simplification tolerance in degrees (about 5 m at mid latitudes): outlines stay faithful at street
# zoom while the payload shrinks several-fold.
DEFAULT_TOLERANCE_DEG = 0.00005


# The city's main body, where its maps open: every part of the layer's areas that holds MAJOR_SHARE of their
# whole area, and any smaller part within NEAR_METRES of one (an island in the bay stays in; an islet 40 km
# offshore that belongs to a district, like San Francisco's Farallones, does not pull the view out to sea).
MAJOR_SHARE = 0.01
NEAR_METRES = 5000.0


def view_bbox(table: str, version_id: int) -> list[float] | None:
    """[west, south, east, north] of the city's main body in one boundary layer version (None if empty); a
    city's own `[map] view` box (settings.CITY_MAP_VIEW) wins: a district drawn out to sea (San Francisco's
    District 4 reaches the Farallones through 248 km² of ocean) is one large part no area rule can tell from land."""
    if settings.CITY_MAP_VIEW:
        return list(settings.CITY_MAP_VIEW)
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH parts AS (
                SELECT ST_Area(d.geom) AS a, ST_Envelope(d.geom) AS e
                FROM {table} t, LATERAL ST_Dump(t.geom) d WHERE t.layer_version_id = %s
            ), major AS (SELECT e FROM parts WHERE a >= %s * (SELECT SUM(a) FROM parts))
            SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM (
                SELECT ST_Extent(p.e)::geometry AS x FROM parts p
                WHERE EXISTS (SELECT 1 FROM major m WHERE ST_DWithin(p.e, m.e, %s))
            ) q
            """,
            # Shares of area and gaps between boxes, in degrees: a city spans too little latitude for the
            # difference to matter, and detailed outlines (Chicago's wards) cost seconds on the spheroid.
            [version_id, MAJOR_SHARE, NEAR_METRES / M_PER_DEG],
        )
        row = cur.fetchone()
    return None if row is None or row[0] is None else [round(float(v), 6) for v in row]


def outlines_geojson(
    kind: str,
    on: dt.date | None = None,
    tolerance: float = DEFAULT_TOLERANCE_DEG,
    within: tuple[float, float, float, float] | None = None,
    digits: int = 6,
) -> str:
    """A GeoJSON FeatureCollection (as text, built in PostGIS) of the version of `kind` in force; with `within`
    (a lon/lat box), only the areas that touch it."""
    version = version_in_force(kind, on)
    area_model = BOUNDARY_MODELS[kind][0]
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT json_build_object(
                'type', 'FeatureCollection',
                'layer', json_build_object('id', %s::int, 'name', %s::text, 'kind', %s::text,
                                           'attribution', %s::text),
                'view_bbox', %s::json,
                'features', COALESCE(json_agg(json_build_object(
                    'type', 'Feature',
                    'properties', json_build_object(
                        'number', number, 'code', COALESCE(NULLIF(code, ''), number::text), 'name', name,
                        'label_point', ST_AsGeoJSON(ST_PointOnSurface(geom), 6)::json->'coordinates'),
                    'geometry', ST_AsGeoJSON(ST_Multi(ST_SimplifyPreserveTopology(geom, %s)), %s)::json
                ) ORDER BY number), '[]'::json)
            )::text
            FROM {area_model._meta.db_table} WHERE layer_version_id = %s
              AND (%s::float8 IS NULL OR geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326))
            """,
            [
                version.pk,
                version.name,
                kind,
                version.licence or version.source,
                json.dumps(view_bbox(area_model._meta.db_table, version.pk)),
                tolerance,
                digits,
                version.pk,
                *((within[0], *within) if within else (None, None, None, None, None)),
            ],
        )
        return str(cur.fetchone()[0])


MAX_STREET_EDGES = 4000


def streets_geojson(bbox: tuple[float, float, float, float], limit: int = MAX_STREET_EDGES) -> str:
    """Active street-network edges inside a lon/lat box, with each network's attribution (ODbL needs it).

    Where two networks overlap (an OSM extract inside the approximate citywide graph), the exact one wins.
    """
    return _streets("ST_MakeEnvelope(%s, %s, %s, %s, 4326)", list(bbox), "TRUE", [], limit)


def streets_along_geojson(wkts: list[str], metres: float, limit: int = 3 * MAX_STREET_EDGES) -> str:
    """Street edges within `metres` of any of some shapes (a crew's route line, its stops as a multipoint): the
    map a tablet caches for the day, a corridor rather than a box, so a long diagonal route does not carry a
    whole quarter's streets. Each shape is a simple type (lines, points): geography distance takes those."""
    # A degree of latitude is about 111 km and longitude degrees are shorter: the box test is generous, the
    # geography test exact.
    pad = metres / 111_000 * 2
    shapes = ", ".join(["ST_GeomFromText(%s, 4326)"] * len(wkts))
    near = " OR ".join(["ST_DWithin(e.geom::geography, ST_GeomFromText(%s, 4326)::geography, %s)"] * len(wkts))
    return _streets(
        f"ST_Expand(ST_Envelope(ST_Collect(ARRAY[{shapes}])), %s)",
        [*wkts, pad],
        f"({near})",
        [v for w in wkts for v in (w, metres)],
        limit,
        merged=True,
    )


# A tablet's map: one feature per street name (its edges merged), simplified to about a metre, 5 decimals.
MERGED_FEATURES = """
    (SELECT json_agg(json_build_object('type', 'Feature', 'properties', json_build_object('name', name),
        'geometry', g)) FROM (
        SELECT name, ST_AsGeoJSON(ST_Simplify(ST_LineMerge(ST_Collect(geom)), 0.00001), 5)::json AS g
        FROM edges GROUP BY name) m)"""
EDGE_FEATURES = """
    (SELECT json_agg(json_build_object('type', 'Feature',
        'properties', json_build_object('name', name, 'class', street_class, 'network', layer_version_id),
        'geometry', ST_AsGeoJSON(geom, 6)::json)) FROM edges)"""


def _streets(
    box_sql: str, box_params: list[Any], near_sql: str, near_params: list[Any], limit: int, merged: bool = False
) -> str:
    table = StreetEdge._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH box AS (SELECT {box_sql} AS g),
            nets AS (
                SELECT id, name, report FROM layers_layerversion
                WHERE kind = 'streets' AND active
                  AND ST_Intersects((SELECT g FROM box), ST_MakeEnvelope(
                        (report->'bbox'->>0)::float8, (report->'bbox'->>1)::float8,
                        (report->'bbox'->>2)::float8, (report->'bbox'->>3)::float8, 4326))
            ),
            chosen AS (
                SELECT * FROM nets WHERE NOT COALESCE((report->>'approximate')::bool, false)
                UNION ALL
                SELECT * FROM nets WHERE COALESCE((report->>'approximate')::bool, false)
                  AND NOT EXISTS (SELECT 1 FROM nets n2 WHERE NOT COALESCE((n2.report->>'approximate')::bool, false))
            ),
            edges AS (
                SELECT e.name, e.street_class, e.layer_version_id, e.geom FROM {table} e
                JOIN chosen c ON c.id = e.layer_version_id, box
                WHERE e.geom && box.g AND {near_sql} LIMIT %s
            )
            SELECT json_build_object(
                'type', 'FeatureCollection',
                'networks', (SELECT COALESCE(json_agg(json_build_object(
                    'id', id, 'name', name, 'attribution', report->>'attribution',
                    'approximate', COALESCE((report->>'approximate')::bool, false))), '[]'::json) FROM chosen),
                'features', COALESCE({MERGED_FEATURES if merged else EDGE_FEATURES}, '[]'::json)
            )::text
            """,
            [*box_params, *near_params, limit],
        )
        return str(cur.fetchone()[0])
