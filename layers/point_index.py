"""Point-in-area answers from an in-process index per layer version, PostGIS still the source of truth.

Why: a ward lookup is a round trip to PostgreSQL (about 1/20 the speed of an in-process shapely STRtree on the same
polygons for one point, 1/5 set-based, benchmarks/ward_lookup.py), and intake looks up two layers per
request. Here each process loads a version's subdivided parts once (they never change: a new map is a new
version, so the index is keyed by the version id and never goes stale) and answers points that lie inside
exactly one area. Anything else (on a shared edge, outside every area, a distance to the edge asked for) is
left to the one SQL rule in `layers.lookup.areas_at`, so every answer means the same whichever path gave it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from django.db import connection

KEEP_VERSIONS = 8  # per process: the maps in force plus a few older ones being looked up by date


@dataclass(frozen=True)
class PartIndex:
    version: int
    tree: shapely.STRtree
    numbers: np.ndarray  # area number of each part, in tree order
    names: dict[int, str]


_CACHE: OrderedDict[tuple[str, int], PartIndex] = OrderedDict()
_LOCK = threading.Lock()


def index_for(kind: str, version: int, area_table: str, part_table: str, part_fk: str) -> PartIndex:
    """The version's index, built on first use in this process (one query) and kept."""
    key = (kind, version)
    with _LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT ST_AsBinary(p.geom), a.number, a.name FROM {part_table} p "
            f"JOIN {area_table} a ON a.id = p.{part_fk} WHERE p.layer_version_id = %s",
            [version],
        )
        rows = cur.fetchall()
    built = PartIndex(
        version=version,
        tree=shapely.STRtree(shapely.from_wkb([bytes(r[0]) for r in rows])),
        numbers=np.array([int(r[1]) for r in rows], dtype=np.int64),
        names={int(r[1]): str(r[2] or "") for r in rows},
    )
    with _LOCK:
        _CACHE[key] = built
        while len(_CACHE) > KEEP_VERSIONS:
            _CACHE.popitem(last=False)
    return built


def single_covers(idx: PartIndex, places: Sequence[tuple[float, float]]) -> list[int | None]:
    """For each (lon, lat): the one area number whose parts cover it, or None when no area or more than one
    does (those go to PostGIS)."""
    if not len(idx.numbers):
        return [None] * len(places)
    lons, lats = zip(*places, strict=True)
    points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
    which, parts = idx.tree.query(points, predicate="covered_by")
    found: list[set[int]] = [set() for _ in places]
    for i, part in zip(which.tolist(), parts.tolist(), strict=True):
        found[i].add(int(idx.numbers[part]))
    return [next(iter(s)) if len(s) == 1 else None for s in found]


def clear() -> None:
    """Forget every index (tests; a process never needs it, versions are immutable)."""
    with _LOCK:
        _CACHE.clear()
