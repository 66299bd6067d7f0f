"""The city's own layers as a planner analysis reads them: the study area's outline and its cells, each area's
size and neighbours (read once per layer version: a loaded version never changes), and Gi* over the areas."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from functools import lru_cache
from typing import Any

import numpy as np
from django.db import connection
from shapely.geometry import shape

from gis_app.planner import stats
from gis_app.planner.stats import PlannerInputError
from layers.importing import BOUNDARY_MODELS
from layers.lookup import LayerNotLoaded, version_in_force

MAX_CELLS = 400_000  # a study grid larger than this would take minutes and gigabytes: a coarser grid is asked for


@lru_cache(maxsize=16)
def _study_geojson(version_id: int, table: str, number: int | None) -> str:
    """The study area's outline (one ward, or the union of the layer): cached per layer version, which never
    changes once loaded (a new map is a new version)."""
    where = "layer_version_id = %s" + (" AND number = %s" if number is not None else "")
    args = [version_id] + ([number] if number is not None else [])
    with connection.cursor() as cur:
        cur.execute(f"SELECT ST_AsGeoJSON(ST_Union(geom)) FROM {table} WHERE {where}", args)
        row = cur.fetchone()
    return row[0] if row and row[0] else '{"type": "MultiPolygon", "coordinates": []}'


@lru_cache(maxsize=16)
def _areas(version_id: int, table: str) -> tuple[tuple[int, float], tuple[tuple[int, int], ...]]:
    """Each area's number and km², and the pairs that touch (contiguity, within about 10 m so the hairline gaps
    of a digitised map do not cut neighbours apart)."""
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT number, ST_Area(geom::geography) / 1e6 FROM {table} WHERE layer_version_id = %s ORDER BY number",
            [version_id],
        )
        sizes = tuple((int(n), float(a)) for n, a in cur.fetchall())
        cur.execute(
            f"""SELECT a.number, b.number FROM {table} a JOIN {table} b
                ON a.layer_version_id = b.layer_version_id AND a.number < b.number
                AND ST_DWithin(a.geom, b.geom, 0.0001) WHERE a.layer_version_id = %s""",
            [version_id],
        )
        pairs = tuple((int(a), int(b)) for a, b in cur.fetchall())
    return sizes, pairs  # type: ignore[return-value]


def layer_in_force(kind: str, on: dt.date) -> tuple[int, str, str] | None:
    try:
        v = version_in_force(kind, on)
    except LayerNotLoaded:  # a city without this layer simply gets no analysis by it
        return None
    return v.pk, BOUNDARY_MODELS[kind][0]._meta.db_table, v.name


def study_cells(ward: int | None, res: int, layer: tuple[int, str, str] | None) -> set[int]:
    """Every cell of the city (or the ward) whose centre lies inside it, for the even-spread baseline."""
    if layer is None:
        return set()
    outline = shape(json.loads(_study_geojson(layer[0], layer[1], ward)))
    lat = outline.centroid.y if not outline.is_empty else 0.0
    km2 = outline.area * (stats.M_PER_DEG / 1000) ** 2 * math.cos(math.radians(lat))
    if km2 / stats.h3.average_hexagon_area(res, "km^2") > MAX_CELLS:
        raise PlannerInputError(
            f"the study area ({km2:,.0f} km²) holds more than {MAX_CELLS:,} cells at grid {res}: "
            "choose a coarser grid (a smaller number), one ward, or the 'usual' baseline"
        )
    return stats.area_cells(outline, res)


def area_spots(kind: str, numbers: np.ndarray, ward: int | None, on: dt.date, alpha: float) -> dict[str, Any] | None:
    """Gi* over a layer's areas (wards, community areas): counts with each area's km² as exposure, contiguity
    neighbours. Only for the whole city (one ward alone has no neighbours to compare with)."""
    layer = layer_in_force(kind, on)
    if layer is None or ward is not None:
        return None
    sizes, pairs = _areas(layer[0], layer[1])
    if len(sizes) < 3:
        return None
    ids = [n for n, _ in sizes]
    pos = {n: i for i, n in enumerate(ids)}
    counts = np.zeros(len(ids))
    for n, c in zip(*np.unique(numbers[numbers >= 0], return_counts=True), strict=True):
        if int(n) in pos:
            counts[pos[int(n)]] = c
    nb: dict[int, list[int]] = defaultdict(list)
    for a, b in pairs:
        nb[a].append(b)
        nb[b].append(a)
    km2 = np.array([a for _, a in sizes])
    gi = stats.gi_star(counts, stats.weights(nb, ids), alpha, exposure=km2)
    return {
        "layer": layer[2],
        "neighbourhood": "areas that share a boundary (within 10 m), plus the area itself",
        "areas": [
            {
                "number": n,
                "count": int(counts[i]),
                "per_km2": round(float(counts[i] / km2[i]), 3) if km2[i] else None,
                "z": round(float(gi.z[i]), 4),
                "p": float(f"{gi.p[i]:.4g}"),
                "q": float(f"{gi.q[i]:.4g}"),
                "bin": int(gi.bin[i]),
            }
            for i, n in enumerate(ids)
        ],
    }
