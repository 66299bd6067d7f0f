"""The geocoder's in-memory index of the street layer: street points, corners, address points, ranged
segments and the calibrated address grid, built once per active layer versions and cached.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection

from layers.geocoding.along import metres_per_number
from layers.geocoding.axes import _corner, _hundred, _local_axis
from layers.geocoding.base import M_PER_DEG, TYPICAL_BLOCK_TOLERANCE, GeocoderNotReady, Index, _orientation
from layers.geocoding.names import SPELLED
from layers.grid import Axis, Grid, GridError, calibrate, fit_block_profile
from layers.memo import remembered
from layers.models import (
    AddressPoint,
    LayerKind,
    LayerVersion,
    RangedSegment,
    StreetCorner,
    StreetEdge,
    StreetNode,
)
from layers.normalize import DIRECTIONS, NORTH_SOUTH, SHORT_DIRECTIONS, base_name

_INDEX: dict[tuple[int, str], Index] = {}


def _address_points(versions: list[int]) -> list[tuple[str, int, str, float, float, str]]:
    if not versions:
        return []
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT street, number, direction, ST_X(geom), ST_Y(geom), postcode FROM "
            f"{AddressPoint._meta.db_table} WHERE layer_version_id = ANY(%s)",
            [versions],
        )
        return [(s, int(n), d, float(x), float(y), z) for s, n, d, x, y, z in cur.fetchall()]


def street_layer() -> LayerVersion:
    """The street layer geocoding reads: the citywide one (approximate, derived) if loaded, else the largest."""
    version = remembered("layers:street-layer", _street_layer)
    if version is None:
        raise GeocoderNotReady("no street layer is loaded: run `manage.py load_streets`")
    return version


def _street_layer() -> LayerVersion | None:
    versions = list(LayerVersion.objects.of_kind(LayerKind.STREETS).active())
    versions.sort(key=lambda v: (bool((v.report or {}).get("approximate")), v.feature_count or 0), reverse=True)
    return versions[0] if versions else None


def _address_versions() -> list[int]:
    return list(
        LayerVersion.objects.filter(kind__in=[LayerKind.ADDRESSES, LayerKind.RANGES])
        .active()
        .values_list("pk", flat=True)
    )


def index(grid_path: Path | None = None) -> Index:
    """The index of the active street layer, address layers and grid file (built once, then cached by version)."""
    version = street_layer()
    grid_path = Path(grid_path or settings.CITY_GRID)
    address_versions = remembered("layers:address-versions", _address_versions)
    key = (version.pk, f"{grid_path}|{sorted(address_versions)}")
    if key in _INDEX:
        return _INDEX[key]
    # A grid city's layer may spell its prefixes ("North State Street", OSM's way): there they are the halves of
    # a street split at a base line, as "N STATE ST" is. Without a usable grid a spelled direction is part of a
    # name (San Francisco's South Van Ness Avenue, North Point Street).
    prefixes = GRID_PREFIXES if grid_path.is_file() else PREFIXES
    (nodes_of, node_xy, zip_of), streets, grid = _streets_and_grid(version.pk, grid_path, prefixes)
    if grid is None and prefixes != PREFIXES:
        (nodes_of, node_xy, zip_of), streets, grid = _streets_and_grid(version.pk, grid_path, PREFIXES)
    if grid is None:
        # No usable grid (a city without one, or a file whose streets this layer does not name): points,
        # ranged centrelines and corners still answer; house numbers fall back to street level.
        empty = Axis(np.array([]), np.array([]))
        grid = Grid(north_south=empty, east_west=empty)
    by_name: dict[str, list[str]] = defaultdict(list)
    for k in streets:
        words = k.split(" ")
        by_name[" ".join(words[:-1]) if len(words) > 1 else k].append(k)
        by_name[k].append(k)
    points: dict[tuple[str, int], list[tuple[str, float, float, str]]] = defaultdict(list)
    along: dict[str, list[tuple[int, str, float, float]]] = defaultdict(list)
    for street, number, direction, x, y, postcode in _address_points(address_versions):
        # An address file reads "S Van Ness Ave" as the south half of Van Ness Ave; where the layer has the
        # whole name (a city without a grid: "South Van Ness Avenue"), the direction is part of the name, and
        # the points are keyed as the geocoder reads that street.
        whole = f"{SPELLED[direction]} {street}" if direction in SPELLED else ""
        if whole in streets:
            street, direction = whole, ""
        points[(street, number)].append((direction, x, y, postcode))
        along[street].append((number, direction, x, y))
    for row in along.values():
        row.sort()
    ranges = _ranges(address_versions, streets, by_name)
    built = Index(
        version=version.pk,
        streets=streets,
        by_name=dict(by_name),
        nodes_of=dict(nodes_of),
        node_xy=node_xy,
        grid=grid,
        vocabulary=sorted(streets),
        zip_of=zip_of,
        points=dict(points),
        ranges=dict(ranges),
        along=dict(along),
    )
    built.metres_per_number = metres_per_number(built.along)
    built.typical_block = _typical_block_m(built)
    built.derived = _derive_grid_streets(built)
    built.grid.profile = fit_block_profile(_profile_samples(built), built.grid.block)
    _INDEX[key] = built
    return built


# The direction prefixes a street key drops: the short ones (N, S, E, W), or every direction word the parser
# knows, spelled ones included (a grid city's OSM layer: "North State Street").
PREFIXES = tuple(dict.fromkeys(DIRECTIONS.values()))
GRID_PREFIXES = tuple(DIRECTIONS)
# Each street's node ids, each node's lon/lat, each corner's ZIP code.
StreetNodes = tuple[dict[str, set[int]], dict[int, tuple[float, float]], dict[int, str]]


def _streets_and_grid(
    version_id: int, grid_path: Path, prefixes: tuple[str, ...]
) -> tuple[StreetNodes, dict[str, np.ndarray], Grid | None]:
    """The layer's street nodes keyed with these prefixes dropped (`_street_nodes`), each street's points, and the
    grid calibrated on them (None when there is no file, or, with spelled prefixes dropped, when the file names no
    street of the layer)."""
    nodes = _street_nodes(version_id, prefixes)
    nodes_of, node_xy, _ = nodes
    streets = {k: np.array([node_xy[n] for n in ids if n in node_xy]) for k, ids in nodes_of.items()}
    streets = {k: v for k, v in streets.items() if len(v)}
    try:
        grid = calibrate(grid_path, streets)
    except GridError:
        return nodes, streets, None
    usable = len(grid.north_south.numbers) or len(grid.east_west.numbers)
    return nodes, streets, grid if usable or prefixes == PREFIXES else None


def _street_nodes(version_id: int, prefixes: tuple[str, ...] = PREFIXES) -> StreetNodes:
    """Each street's points (by its base name) from the layer's named corners, or from an OSM layer's named
    edges; the points' coordinates; each corner's ZIP code."""
    nodes_of: dict[str, set[int]] = defaultdict(set)
    zip_of: dict[int, str] = {}
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id, street_1, street_2, zipcode, ST_X(geom), ST_Y(geom) FROM "
            f"{StreetCorner._meta.db_table} WHERE layer_version_id = %s",
            [version_id],
        )
        corners = cur.fetchall()
        if corners:  # a derived layer keeps every named corner: the fullest street vocabulary
            node_xy = {int(i): (float(x), float(y)) for i, _, _, _, x, y in corners}
            for i, a, b, z, _, _ in corners:
                zip_of[int(i)] = z
                for name in (a, b):
                    if name.strip():
                        nodes_of[base_name(name, prefixes)].add(int(i))
            return nodes_of, node_xy, zip_of
        cur.execute(
            f"SELECT node_id, ST_X(geom), ST_Y(geom) FROM {StreetNode._meta.db_table} WHERE layer_version_id = %s",
            [version_id],
        )
        node_xy = {int(n): (float(x), float(y)) for n, x, y in cur.fetchall()}
        cur.execute(
            f"SELECT DISTINCT name, u FROM {StreetEdge._meta.db_table} WHERE layer_version_id = %s "
            f"AND name <> '' UNION SELECT DISTINCT name, v FROM {StreetEdge._meta.db_table} "
            "WHERE layer_version_id = %s AND name <> ''",
            [version_id, version_id],
        )
        for names, node in cur.fetchall():
            # An edge merged from ways of several names carries them all ("Alemany Blvd/Bayshore Blvd"; OSM
            # writes "a;b"): the node belongs to each street.
            for name in re.split(r"[/;]", str(names)):
                if name.strip():
                    nodes_of[base_name(name, prefixes)].add(int(node))
    return nodes_of, node_xy, zip_of


def _ranges(
    address_versions: list[int], streets: dict[str, np.ndarray], by_name: dict[str, list[str]]
) -> dict[str, list[tuple[Any, ...]]]:
    """Ranged centrelines by street; a ranged street the corners do not name joins the vocabulary."""
    ranges: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    fields = ("street", "direction", "left_from", "left_to", "right_from", "right_to")
    for seg in RangedSegment.objects.filter(layer_version__in=address_versions).values_list(
        *fields, "left_postcode", "right_postcode", "geom"
    ):
        ranges[seg[0]].append((*seg[1:8], list(seg[8].coords)))
        street = seg[0]
        if street not in streets:
            streets[street] = np.array(seg[8].coords)
            words = street.split(" ")
            by_name[" ".join(words[:-1]) if len(words) > 1 else street].append(street)
    return ranges


def _derive_grid_streets(idx: Index) -> dict[str, float]:
    """Grid lines the grid file does not list, read off the street layer, added to the grid; key → number.

    A street crossed by at least `derive_min_corners` grid streets whose own axes all put it at one hundred
    line (the median of their readings within `derive_tolerance` numbers of it, and spread no wider) is a
    grid street at that hundred. Chicago's file names the mile and half-mile streets; most minor streets
    between them lie on hundred lines too (Ainslie St is 4900 N), and blocks are not equal (Lawrence to
    Ainslie is 277 m, Ainslie to Argyle 193 m), so each line found is a corner interpolation no longer has
    to guess. A diagonal street crosses the grid streets at readings too spread to pass."""
    g = idx.grid
    if g.derive_min_corners <= 0 or g.derive_tolerance <= 0:
        return {}
    found: dict[bool, dict[str, float]] = {True: {}, False: {}}
    for on_ns in (True, False):  # east-west streets carry north-south numbers, and the other way round
        known, crossing = (g.ns_streets, g.ew_streets) if on_ns else (g.ew_streets, g.ns_streets)
        axes = {k: a for k in crossing if k in idx.streets and (a := _local_axis(idx, k, on_ns)) is not None}
        for key, pts in idx.streets.items():
            if key in known or key in crossing or len(pts) < g.derive_min_corners:
                continue
            if (_orientation(pts) == "EW") != on_ns:
                continue
            mine = idx.nodes_of.get(key, set())
            readings = []
            for other, axis in axes.items():
                corner = _corner(idx, mine, other, on_ns)
                if corner is not None and axis.positions[0] <= corner[0] <= axis.positions[-1]:
                    readings.append(float(np.interp(corner[0], axis.positions, axis.numbers)))
            if len(readings) < g.derive_min_corners:
                continue
            middle = float(np.median(readings))
            line = round(middle / g.block) * g.block
            spread = float(np.median(np.abs(np.array(readings) - middle)))
            if abs(middle - line) <= g.derive_tolerance and spread <= g.derive_tolerance:
                found[on_ns][key] = float(line)
    g.ns_streets.update(found[True])
    g.ew_streets.update(found[False])
    idx.local.clear()  # every street's own axis now has the new corners
    return {**found[True], **found[False]}


def _profile_samples(idx: Index) -> list[tuple[float, float]]:
    """(number past the hundred line, share of its block) for every address point on a street with its own
    grid corners: what the block profile is fitted on (the city's address points, never the 311 records)."""
    typical = idx.typical_block
    if typical is None:
        return []
    samples = []
    for (street, number), hits in idx.points.items():
        if street not in idx.streets:
            continue
        for direction, x, y, _ in hits:
            if direction not in SHORT_DIRECTIONS:
                continue
            on_ns = direction in NORTH_SOUTH
            axis = _local_axis(idx, street, on_ns)  # a street's own corners: the citywide axis is too coarse
            if axis is None:
                continue
            p0, p1, rem = _hundred(idx, axis, number, direction)
            scale = M_PER_DEG * (1.0 if on_ns else math.cos(math.radians(y)))
            if abs(abs(p1 - p0) * scale - typical) > TYPICAL_BLOCK_TOLERANCE * typical:
                continue
            samples.append((rem, ((y if on_ns else x) - p0) / (p1 - p0)))
    return samples


def _typical_block_m(idx: Index) -> float | None:
    """The median length in metres of a hundred-block on the citywide grid (None without a grid)."""
    lengths = []
    latitude = float(np.median(idx.grid.north_south.positions)) if len(idx.grid.north_south.positions) else 0.0
    for axis, on_ns in ((idx.grid.north_south, True), (idx.grid.east_west, False)):
        if len(axis.numbers) < 2:
            continue
        scale = M_PER_DEG * (1.0 if on_ns else math.cos(math.radians(latitude)))
        for (n0, n1), (p0, p1) in zip(
            itertools.pairwise(axis.numbers), itertools.pairwise(axis.positions), strict=True
        ):
            if n1 - n0 >= idx.grid.block:
                lengths.append(abs(p1 - p0) * scale / (n1 - n0) * idx.grid.block)
    return float(np.median(lengths)) if lengths else None


def prepare_axes(idx: Index) -> int:
    """Compute every street's own number axis now instead of on its first geocode (about 0.6 s for Chicago's
    2,000 streets): gunicorn's master does it once before forking, so no resident's request pays for it."""
    for key, pts in idx.streets.items():
        _local_axis(idx, key, _orientation(pts) == "NS")
    return len(idx.local)


def clear_cache() -> None:
    _INDEX.clear()
