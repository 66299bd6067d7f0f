"""Reverse geocoding (a point to its address, corner, ward and community area) and the grid as ranged
centrelines for a city that has none.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from scipy.spatial import cKDTree

from layers.coords import checked_lonlat, local_plane
from layers.geocoding.axes import _place_on_street, _signed_at, _street_axis
from layers.geocoding.base import (
    ADDRESS_POINT_REACH_M,
    M_PER_DEG,
    REVERSE_REACH_M,
    GeocoderNotReady,
    Index,
    _metres,
    _orientation,
)
from layers.geocoding.index import index
from layers.geocoding.names import _zip_near
from layers.grid import GridError
from layers.lookup import LayerNotLoaded, areas_with_edges
from layers.memo import remembered
from layers.models import (
    AddressPoint,
    LayerKind,
    LayerVersion,
    StreetCorner,
    StreetEdge,
)
from layers.normalize import base_name


def _number_at(idx: Index, key: str, lon: float, lat: float) -> tuple[int, str] | None:
    """The house number the grid gives a point on `key` (the inverse of placing), with its direction; its
    parity is the side of the street the point is on (even numbers on the city's even side)."""
    pts = idx.streets.get(key)
    if pts is None:
        return None
    on_ns = _orientation(pts) == "NS"
    axis = _street_axis(idx, key, on_ns)
    value = lat if on_ns else lon
    if len(axis.numbers) < 2:
        return None
    signed = _signed_at(idx, axis, value)
    near = _street_axis(idx, key, on_ns, signed)  # a gap in its corners is shaped as forward shapes it
    if near is not axis and len(near.numbers) >= 2:
        signed = _signed_at(idx, near, value)
    direction = ("N" if signed >= 0 else "S") if on_ns else ("E" if signed >= 0 else "W")
    estimate = abs(signed)
    number = round(estimate)
    side = idx.grid.even_side.get("NS" if on_ns else "EW")
    spot = _place_on_street(pts, "lat" if on_ns else "lon", value)
    if side and spot is not None and _metres((lon, lat), spot) >= 1.0:  # on the centreline: either side
        here = ("W" if lon < spot[0] else "E") if on_ns else ("N" if lat > spot[1] else "S")
        want_even = here == side
        if (number % 2 == 0) != want_even:
            number += 1 if estimate >= number else -1
    return max(number, 0 if number % 2 == 0 else 1), direction


def grid_ranges() -> dict[str, Any]:
    """Ranged centrelines for a city that has none: every named segment of the street layer with the house
    numbers the grid model gives its two ends, by side and parity, as a GeoJSON FeatureCollection with the
    TIGER/Line ADDRFEAT fields (FULLNAME, LFROMHN, LTOHN, RFROMHN, RTOHN, ZIPL, ZIPR), so `import_addresses
    --format tiger` (or any GIS) reads it back. A number on a corner belongs to the block it starts."""
    idx = index()
    features = []
    seen: set[tuple[int, int]] = set()
    for u, v, name, coords in (
        StreetEdge.objects.filter(layer_version_id=idx.version).exclude(name="").values_list("u", "v", "name", "geom")
    ):
        if (min(u, v), max(u, v)) in seen:  # the routing graph holds a two-way street in both directions
            continue
        seen.add((min(u, v), max(u, v)))
        key = base_name(str(name))
        if key not in idx.streets or len(idx.streets[key]) < 2:
            continue
        line = list(coords.coords)
        on_ns = _orientation(idx.streets[key]) == "NS"
        col = 1 if on_ns else 0
        axis = _street_axis(idx, key, on_ns)
        try:
            s0, s1 = _signed_at(idx, axis, line[0][col]), _signed_at(idx, axis, line[-1][col])
        except (GridError, IndexError):
            continue
        middle = (s0 + s1) / 2
        sign = 1 if middle >= 0 else -1
        a, b = max(0.0, sign * s0), max(0.0, sign * s1)  # a segment across the base line keeps its own side
        lo, hi = math.ceil(min(a, b)), math.ceil(max(a, b)) - 1
        if hi < lo:
            continue
        ranges = {}
        for parity in (0, 1):
            first = lo if lo % 2 == parity else lo + 1
            last = hi if hi % 2 == parity else hi - 1
            ranges[parity] = (first, last) if first <= last else (None, None)
            if b < a:  # numbers fall along the line: its ranges run from high to low
                ranges[parity] = ranges[parity][::-1]
        forward = line[-1][col] > line[0][col]  # travelling north (or east)
        even_side = idx.grid.even_side.get("NS" if on_ns else "EW", "W" if on_ns else "N")
        left_even = forward == (even_side == ("W" if on_ns else "N"))
        left, right = (ranges[0], ranges[1]) if left_even else (ranges[1], ranges[0])
        direction = ("N" if sign > 0 else "S") if on_ns else ("E" if sign > 0 else "W")
        mid = line[len(line) // 2]
        zipcode = _zip_near(idx, key, (float(mid[0]), float(mid[1])))
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[round(x, 6), round(y, 6)] for x, y in line]},
                "properties": {
                    "FULLNAME": f"{direction} {key}",
                    "LFROMHN": left[0],
                    "LTOHN": left[1],
                    "RFROMHN": right[0],
                    "RTOHN": right[1],
                    "ZIPL": zipcode,
                    "ZIPR": zipcode,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "source": f"street layer v{idx.version} + address grid {Path(settings.CITY_GRID).name}",
            "profile": idx.grid.profile.describe(),
        },
    }


@dataclass(frozen=True)
class _NoArea:
    number: None = None
    edge_distance_m: None = None


NO_AREA = _NoArea()


def reverse(lon: float, lat: float) -> dict[str, Any]:
    return reverse_many([(lon, lat)])[0]


def reverse_many(places: list[tuple[float, float]], *, with_areas: bool = True) -> list[dict[str, Any]]:
    """What is at each (lon, lat), in the shape forward geocoding answers with: the nearest address point if
    one is within ADDRESS_POINT_REACH_M (kind "point"), else the number the grid gives the point on the
    nearest named street segment (else the nearer street of its nearest corner), on the side it is on (kind
    "interpolated"); the nearest corner ("near N CLARK ST & W DIVISION ST"); the ward with the distance to
    its nearest edge (a pin that close to a ward line is worth a second look), and the community area.
    Set-based: one statement of KNN lookups (`<->` on the GiST indexes) for the corners, the segments and the
    address points, one for the wards, one for the areas. Without `with_areas` (intake: placement looks the ward up
    itself), no ward or area is looked up and they answer None."""
    checked = [checked_lonlat(lon, lat) for lon, lat in places]
    lons, lats = [x for x, _ in checked], [y for _, y in checked]
    try:
        idx: Index | None = index()
    except GeocoderNotReady:
        idx = None  # no street layer: the ward, the area and any address point still answer
    corners: list[tuple[Any, ...]] = [(None,) * 5] * len(checked)
    along: list[tuple[Any, ...]] = [(None, None)] * len(checked)
    versions = remembered("layers:address-point-versions", _address_point_versions)
    parts: list[tuple[Any, list[str], str, list[Any]]] = []
    if idx is not None:
        parts.append(
            (StreetCorner, ["street_1", "street_2", "ST_X(geom)", "ST_Y(geom)"], "layer_version_id = %s", [idx.version])
        )
        # The street the point lies along: the nearest named segment of the street layer.
        parts.append((StreetEdge, ["name"], "layer_version_id = %s AND name <> ''", [idx.version]))
    if versions:
        parts.append((AddressPoint, ["number_text", "direction", "street"], "layer_version_id = ANY(%s)", [versions]))
    rows = _nearest_each(lons, lats, parts)
    if idx is not None:
        corners, along = rows[0], rows[1]
        if corners and all(c[0] is None for c in corners):  # a network without a corner table (OSM)
            corners = _nearest_network_corner(idx, lons, lats)
    nearest: list[Any] = [None] * len(checked)
    if versions:
        nearest = [row if row[3] is not None and row[3] <= ADDRESS_POINT_REACH_M else None for row in rows[-1]]
    wards: list[Any] = [NO_AREA] * len(checked)
    areas: list[Any] = []
    if with_areas:
        wards = areas_with_edges(LayerKind.WARDS, checked)
        try:
            areas = areas_with_edges(LayerKind.COMMUNITY_AREAS, checked, with_edge_distance=False)
        except LayerNotLoaded:
            areas = []
    return [
        _reverse_one(idx, lon, lat, corner, street, found, ward, areas[i] if areas else None)
        for i, (lon, lat, corner, street, found, ward) in enumerate(
            zip(lons, lats, corners, along, nearest, wards, strict=True)
        )
    ]


def _network_corners(idx: Index) -> tuple[Any, list[tuple[str, str, float, float]], float]:
    """The places where two differently named streets of the layer meet (a network's nodes, for a layer
    with no corner table such as an OSM network), with a KD-tree over them in local metres; built once per
    index."""
    if idx.network_corners is None:
        keys_at: dict[int, set[str]] = defaultdict(set)
        for key, nodes in idx.nodes_of.items():
            for node in nodes:
                keys_at[node].add(key)
        found: list[tuple[str, str, float, float]] = [
            (min(keys), max(keys), *idx.node_xy[node])
            for node, keys in keys_at.items()
            if len(keys) >= 2 and node in idx.node_xy
        ]
        lat0 = float(np.median([c[3] for c in found])) if found else 0.0
        tree = cKDTree(local_plane([c[2:] for c in found], lat0)) if found else None
        idx.network_corners = (tree, found, lat0)
    tree, corners, lat = idx.network_corners
    return tree, corners, lat


def _nearest_network_corner(idx: Index, lons: list[float], lats: list[float]) -> list[tuple[Any, ...]]:
    """For each point, the nearest corner of the layer's named streets: (street, street, lon, lat, metres)."""
    tree, found, lat0 = _network_corners(idx)
    if tree is None:
        return [(None,) * 5] * len(lons)
    _, at = tree.query(local_plane(np.column_stack((lons, lats)), lat0))
    return [
        (*found[i][:2], found[i][2], found[i][3], _metres((lon, lat), (found[i][2], found[i][3])))
        for lon, lat, i in zip(lons, lats, at.tolist(), strict=True)
    ]


def _address_point_versions() -> list[int]:
    return list(LayerVersion.objects.filter(kind=LayerKind.ADDRESSES).active().values_list("pk", flat=True))


JOINED_UP_TO = 50  # points looked up with one joined statement (below) rather than a statement per part


def _nearest_each(
    lons: list[float], lats: list[float], parts: list[tuple[Any, list[str], str, list[Any]]]
) -> list[list[tuple[Any, ...]]]:
    """For each part (model, columns, where, params) and each point in order: `columns` of the part's nearest
    row (KNN `<->` on its GiST index) and its distance in metres last; all None where the table has no row.
    A few points (a pin at intake) take one statement for every part: one round trip, not one per layer (1.3
    ms against 1.8 for one point). A batch takes a statement per part, which PostgreSQL runs faster than the
    joined one (175 ms against 202 for a thousand points)."""
    if not parts:
        return []
    if len(parts) > 1 and len(lons) > JOINED_UP_TO:
        return [_nearest_each(lons, lats, [part])[0] for part in parts]
    point = "ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)"
    joins, params = [], [lons, lats]
    for n, (model, columns, where, extra) in enumerate(parts):
        joins.append(
            f"LEFT JOIN LATERAL (SELECT {', '.join(columns)}, ST_Distance(geom::geography, {point}::geography) "
            f"FROM {model._meta.db_table} WHERE {where} ORDER BY geom <-> {point} LIMIT 1) n{n} ON true"
        )
        params.extend(extra)
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT * FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS u(lon, lat, i) {' '.join(joins)} "
            "ORDER BY u.i",
            params,
        )
        rows = cur.fetchall()
    out: list[list[tuple[Any, ...]]] = []
    start = 3  # after u.lon, u.lat, u.i
    for _, columns, _, _ in parts:
        out.append([tuple(row[start : start + len(columns) + 1]) for row in rows])
        start += len(columns) + 1
    return out


def _reverse_one(
    idx: Index | None,
    lon: float,
    lat: float,
    corner: tuple[Any, ...],
    segment: tuple[Any, ...],
    found: tuple[Any, ...] | None,
    ward: Any,
    area: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input": f"{lon},{lat}",
        "status": "unmatched",
        "kind": "none",
        "lon": round(lon, 6),
        "lat": round(lat, 6),
        "score": 0.0,
        "address": "",
        "ward": ward.number,
        "candidates": [],
        "ward_edge_m": None if ward.edge_distance_m is None else round(ward.edge_distance_m, 1),
        "near_ward_edge": bool(
            ward.number is not None
            and ward.edge_distance_m is not None
            and ward.edge_distance_m < settings.WARD_EDGE_WARNING_METRES
        ),
        "community_area": {"number": area.number, "name": area.name} if area and area.number is not None else None,
        "intersection": "",
        "intersection_m": None,
        "address_m": None,
        # The nearest named street segment: what there is to say where a network has no named corners.
        "street": segment[0] if segment[0] and segment[1] is not None and segment[1] <= REVERSE_REACH_M else "",
    }
    if found is not None:
        number, direction, street, metres = found
        out.update(
            status="matched",
            kind="point",
            score=1.0,
            address=" ".join(part for part in (str(number), direction, street) if part),
            address_m=round(float(metres), 1),
        )
    a, b, x, y, metres = corner
    if idx is None:
        out["message"] = "no street layer is loaded: run `manage.py load_streets`"
    elif a is None:
        out["message"] = "the street layer has no named corners"
    elif metres > REVERSE_REACH_M:
        out["message"] = f"no named street corner within {REVERSE_REACH_M:.0f} m"
    else:
        out.update(intersection=f"near {a} & {b}", intersection_m=round(float(metres), 1))
        if found is None:
            # The street the point lies along: the nearest segment's, else the nearer street of the corner.
            best = None
            if segment[0] and base_name(segment[0]) in idx.streets:
                best = (float(segment[1]), base_name(segment[0]))
            for name in (a, b) if best is None else ():
                key = base_name(name)
                pts = idx.streets.get(key)
                if pts is None:
                    continue
                on_ns = _orientation(pts) == "NS"
                off = abs(lon - x) * M_PER_DEG * math.cos(math.radians(lat)) if on_ns else abs(lat - y) * M_PER_DEG
                if best is None or off < best[0]:
                    best = (off, key)
            numbered = _number_at(idx, best[1], lon, lat) if best is not None else None
            if best is not None and numbered:
                out.update(
                    status="matched",
                    kind="interpolated",
                    score=0.8,
                    address=f"{numbered[0]} {numbered[1]} {best[1]}",
                    address_m=round(best[0], 1),
                )
            else:
                out.update(status="matched", kind="intersection", score=0.6, address=f"{a} & {b}")
    if ward.number is None:
        out["status"] = "unmatched"  # named for the caller's benefit, but not a place in the city
        out["message"] = "the point is outside the city" + (f" ({out['message']})" if out.get("message") else "")
    return out
