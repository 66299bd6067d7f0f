"""Basemap outlines drawn from the city's own layers (no tile server, no internet)."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from layers.importing import BOUNDARY_MODELS
from layers.lookup import version_in_force

# Simplification tolerance in degrees (about 5 m at mid latitudes): outlines stay faithful at street
# zoom while the payload shrinks several-fold.
DEFAULT_TOLERANCE_DEG = 0.00005


def outlines_geojson(kind: str, on: dt.date | None = None, tolerance: float = DEFAULT_TOLERANCE_DEG) -> str:
    """A GeoJSON FeatureCollection (as text, built in PostGIS) of the version of `kind` in force."""
    version = version_in_force(kind, on)
    area_model = BOUNDARY_MODELS[kind][0]
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT json_build_object(
                'type', 'FeatureCollection',
                'layer', json_build_object('id', %s::int, 'name', %s::text, 'kind', %s::text,
                                           'attribution', %s::text),
                'features', COALESCE(json_agg(json_build_object(
                    'type', 'Feature',
                    'properties', json_build_object(
                        'number', number, 'name', name,
                        'label_point', ST_AsGeoJSON(ST_PointOnSurface(geom), 6)::json->'coordinates'),
                    'geometry', ST_AsGeoJSON(ST_Multi(ST_SimplifyPreserveTopology(geom, %s)), 6)::json
                ) ORDER BY number), '[]'::json)
            )::text
            FROM {area_model._meta.db_table} WHERE layer_version_id = %s
            """,
            [version.pk, version.name, kind, version.licence or version.source, tolerance, version.pk],
        )
        return str(cur.fetchone()[0])
