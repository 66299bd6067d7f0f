"""Forward geocoding on the street layer and the address grid: house addresses and intersections.

The reference is what the city's layers hold, never the 311 records: the street layer's named streets
(each street's points; each corner's street names), its address points and ranged centrelines, and the
address-grid model calibrated on them. A house address is an address point where one matches (kind
"point"), else interpolated on a ranged centreline, else placed on its street where the grid puts its
number (kind "interpolated"): along the street's own axis (its corners with the grid streets), or the
parallel grid streets' where it has none near the number, then inside the hundred-block where the block
profile fitted on the address points puts it, set back to its parity's side. "A & B" is the corner of the
two streets (kind "intersection"). A missing direction is resolved from the grid (7830 Luella exists only
south); when two places fit equally the answer is "ambiguous" with both candidates, never a silent pick.
Street names are matched exactly, then without the type, then by rapidfuzz against the layer's street
vocabulary (typos); partial input gets ranked completions (`suggest`). Ward from the ward layer; a point
outside the city is unmatched. `reverse_many` answers the other way in the same shape; `grid_ranges`
turns the grid into ranged centrelines for a city that has none.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from rapidfuzz import fuzz, process

from layers.coords import checked_lonlat, point_from_lonlat
from layers.grid import Axis, Grid, GridError, calibrate, fit_block_profile, local_axis
from layers.lookup import nearest_ward, wards_at
from layers.models import (
    AddressPoint,
    LayerKind,
    LayerVersion,
    RangedSegment,
    StreetCorner,
    StreetEdge,
    StreetNode,
)
from layers.normalize import DIRECTIONS, SEPARATORS, TYPES, ParsedAddress, ParsedStreet, base_name, parse

M_PER_DEG = 111_320.0
COVER_SLACK_M = 150.0  # a number may sit a little past the street's last mapped corner
SAME_CORNER_M = 60.0  # corners closer than this are one corner (a wide street listed twice)
FUZZY_CUTOFF = 85.0
FUZZY_TIE = 0.03  # typo readings this close to the best one are kept for the house number to decide between
LOCAL_TRUST_M = 400.0  # a street's own corner with a grid street counts if within this of the citywide grid
BETWEEN_POINTS_M = 250.0  # two address points further apart than this are not one stretch to interpolate on
REVERSE_REACH_M = 500.0  # reverse: a corner further than this names nothing (a pin in the lake or out of town)
ADDRESS_POINT_REACH_M = 40.0  # reverse: an address point this close names the place (else the grid's number)
BOUNDARY_SLACK_M = 30.0  # a place this close to the city's edge (a boundary street's centreline) is inside
# The block profile is fitted on address points in hundred-blocks of about the city's typical length (its
# citywide grid's median metres per hundred): downtown's half-blocks and superblocks number differently.
# 15 % was chosen on one half of the 311 addresses (split by CRC-32 of the address) over all blocks and 25 %.
TYPICAL_BLOCK_TOLERANCE = 0.15
NEIGHBOUR_REACH_BLOCKS = 8.0  # a parallel grid street further than this says little about a short street
# A street's own corners further apart than this around a number: ask its neighbours instead (16 chosen on
# the same half of the 311 addresses over 4, 8 and never; the figures barely move).
OWN_GAP_BLOCKS = 16.0
KINK_BLOCKS = 1.5  # a grid street's corner this far (typical blocks) off its neighbours' line is off the grid: 1.5
# chosen on the same half of the 311 addresses over 0.5, 1 and none (inner corners all kept)


class GeocoderNotReady(RuntimeError):
    """No street layer (or grid) to geocode against; the message says how to load one."""


@dataclass
class Result:
    input: str
    status: str  # matched / ambiguous / unmatched
    kind: str  # point / interpolated / intersection / street / none
    lon: float | None = None
    lat: float | None = None
    score: float = 0.0
    address: str = ""
    ward: int | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"input": self.input, "status": self.status, "kind": self.kind,
                "lon": None if self.lon is None else round(self.lon, 6),
                "lat": None if self.lat is None else round(self.lat, 6), "score": round(self.score, 3),
                "address": self.address, "ward": self.ward, "candidates": self.candidates,
                **({"message": self.message} if self.message else {})}


@dataclass
class Index:
    version: int
    streets: dict[str, np.ndarray]  # key "ASHLAND AVE" → (n, 2) lon/lat
    by_name: dict[str, list[str]]  # "ASHLAND" → ["ASHLAND AVE"]
    nodes_of: dict[str, set[int]]  # key → node ids
    node_xy: dict[int, tuple[float, float]]
    grid: Grid
    vocabulary: list[str]
    local: dict[tuple[str, bool], Axis | None] = field(default_factory=dict)
    points: dict[tuple[str, int], list[tuple[str, float, float, str]]] = field(default_factory=dict)
    # street key → its address points sorted by number: (number, direction, lon, lat), for interpolating
    along: dict[str, list[tuple[int, str, float, float]]] = field(default_factory=dict)
    # street key → ranged segments (direction, left_from, left_to, right_from, right_to, lzip, rzip, coords)
    ranges: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    zip_of: dict[int, str] = field(default_factory=dict)  # corner id → postcode, where the layer has them
    typical_block: float | None = None  # metres of a hundred-block on the citywide grid (median)
    centre: dict[str, tuple[float, float]] = field(default_factory=dict)  # street key → median lon, lat
    derived: dict[str, float] = field(default_factory=dict)  # grid lines read off the street layer (key → number)

    def middle(self, key: str) -> tuple[float, float]:
        """A street's median point (its label spot, and where it lies across the grid), computed once."""
        if key not in self.centre:
            pts = self.streets[key]
            self.centre[key] = (float(np.median(pts[:, 0])), float(np.median(pts[:, 1])))
        return self.centre[key]


_INDEX: dict[tuple[int, str], Index] = {}


def _address_points(versions: list[int]) -> list[tuple[str, int, str, float, float, str]]:
    if not versions:
        return []
    with connection.cursor() as cur:
        cur.execute(f"SELECT street, number, direction, ST_X(geom), ST_Y(geom), postcode FROM "
                    f"{AddressPoint._meta.db_table} WHERE layer_version_id = ANY(%s)", [versions])
        return [(s, int(n), d, float(x), float(y), z) for s, n, d, x, y, z in cur.fetchall()]


def street_layer() -> LayerVersion:
    """The street layer geocoding reads: the citywide one (approximate, derived) if loaded, else the largest."""
    versions = list(LayerVersion.objects.of_kind(LayerKind.STREETS).active())
    if not versions:
        raise GeocoderNotReady("no street layer is loaded: run `manage.py load_streets`")
    versions.sort(key=lambda v: (bool((v.report or {}).get("approximate")), v.feature_count or 0), reverse=True)
    return versions[0]


def index(grid_path: Path | None = None) -> Index:
    version = street_layer()
    grid_path = Path(grid_path or settings.CITY_GRID)
    address_versions = list(LayerVersion.objects.filter(kind__in=[LayerKind.ADDRESSES, LayerKind.RANGES])
                            .active().values_list("pk", flat=True))
    key = (version.pk, f"{grid_path}|{sorted(address_versions)}")
    if key in _INDEX:
        return _INDEX[key]
    nodes_of: dict[str, set[int]] = defaultdict(set)
    zip_of: dict[int, str] = {}
    with connection.cursor() as cur:
        cur.execute(f"SELECT id, street_1, street_2, zipcode, ST_X(geom), ST_Y(geom) FROM "
                    f"{StreetCorner._meta.db_table} WHERE layer_version_id = %s", [version.pk])
        corners = cur.fetchall()
        if corners:  # a derived layer keeps every named corner: the fullest street vocabulary
            node_xy = {int(i): (float(x), float(y)) for i, _, _, _, x, y in corners}
            for i, a, b, z, _, _ in corners:
                zip_of[int(i)] = z
                for name in (a, b):
                    if name.strip():
                        nodes_of[base_name(name)].add(int(i))
        else:  # an OSM layer: streets from its named edges
            cur.execute(f"SELECT node_id, ST_X(geom), ST_Y(geom) FROM {StreetNode._meta.db_table} "
                        "WHERE layer_version_id = %s", [version.pk])
            node_xy = {int(n): (float(x), float(y)) for n, x, y in cur.fetchall()}
            cur.execute(f"SELECT DISTINCT name, u FROM {StreetEdge._meta.db_table} WHERE layer_version_id = %s "
                        f"AND name <> '' UNION SELECT DISTINCT name, v FROM {StreetEdge._meta.db_table} "
                        "WHERE layer_version_id = %s AND name <> ''", [version.pk, version.pk])
            for name, node in cur.fetchall():
                nodes_of[base_name(str(name))].add(int(node))
    streets = {k: np.array([node_xy[n] for n in ids if n in node_xy]) for k, ids in nodes_of.items()}
    streets = {k: v for k, v in streets.items() if len(v)}
    by_name: dict[str, list[str]] = defaultdict(list)
    for k in streets:
        words = k.split(" ")
        by_name[" ".join(words[:-1]) if len(words) > 1 else k].append(k)
        by_name[k].append(k)
    try:
        grid = calibrate(grid_path, streets)
    except GridError:
        # No usable grid (a city without one, or a file whose streets this layer does not name): points,
        # ranged centrelines and corners still answer; house numbers fall back to street level.
        empty = Axis(np.array([]), np.array([]))
        grid = Grid(north_south=empty, east_west=empty)
    points: dict[tuple[str, int], list[tuple[str, float, float, str]]] = defaultdict(list)
    along: dict[str, list[tuple[int, str, float, float]]] = defaultdict(list)
    for street, number, direction, x, y, postcode in _address_points(address_versions):
        points[(street, number)].append((direction, x, y, postcode))
        along[street].append((number, direction, x, y))
    for row in along.values():
        row.sort()
    ranges: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for seg in RangedSegment.objects.filter(layer_version__in=address_versions).values_list(
            "street", "direction", "left_from", "left_to", "right_from", "right_to", "left_postcode",
            "right_postcode", "geom"):
        ranges[seg[0]].append((*seg[1:8], list(seg[8].coords)))
        vocab_extra = seg[0]
        if vocab_extra not in streets:  # a ranged street the corners do not name still counts as a street
            streets[vocab_extra] = np.array(seg[8].coords)
            words = vocab_extra.split(" ")
            by_name[" ".join(words[:-1]) if len(words) > 1 else vocab_extra].append(vocab_extra)
    built = Index(version=version.pk, streets=streets, by_name=dict(by_name), nodes_of=dict(nodes_of),
                  node_xy=node_xy, grid=grid, vocabulary=sorted(streets), zip_of=zip_of, points=dict(points),
                  ranges=dict(ranges), along=dict(along))
    built.typical_block = _typical_block_m(built)
    built.derived = _derive_grid_streets(built)
    built.grid.profile = fit_block_profile(_profile_samples(built), built.grid.block)
    _INDEX[key] = built
    return built


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
            if direction not in ("N", "S", "E", "W"):
                continue
            on_ns = direction in ("N", "S")
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
        for (n0, n1), (p0, p1) in zip(itertools.pairwise(axis.numbers), itertools.pairwise(axis.positions),
                                      strict=True):
            if n1 - n0 >= idx.grid.block:
                lengths.append(abs(p1 - p0) * scale / (n1 - n0) * idx.grid.block)
    return float(np.median(lengths)) if lengths else None


def _hundred(idx: Index, axis: Axis, number: int, direction: str) -> tuple[float, float, float]:
    """Positions of the two corners around the number on `axis` and how far past the first it is, in a
    hundred-block's numbers. The corners are the number's hundred line and the next, unless the axis has a
    corner between them (Wabash Ave at 45 E cuts State to Michigan's block in two): a corner is a corner,
    and the block profile spans corner to corner."""
    sign = 1 if direction in ("N", "E") else -1
    block = idx.grid.block
    low, high = _stretch(axis, float(number), sign, block)
    rem = (number - low) / (high - low) * block
    return axis.position(sign * low), axis.position(sign * high), rem


def _stretch(axis: Axis, number: float, sign: int, block: float) -> tuple[float, float]:
    """The unsigned numbers of the corners around `number`: its hundred lines, or the axis's own points
    between them."""
    low = (number // block) * block
    high = low + block
    for k in axis.numbers:
        n = float(k) * sign
        if low < n < high:
            if n <= number:
                low = n
            else:
                high = min(high, n)
    return low, high


def _position(idx: Index, axis: Axis, number: int, direction: str) -> float:
    """Where a number lies along an axis: its hundred line, then the block profile's share of the block."""
    p0, p1, rem = _hundred(idx, axis, number, direction)
    return p0 + idx.grid.profile.share(rem) * (p1 - p0)


def clear_cache() -> None:
    _INDEX.clear()


SPELLED = {"N": "NORTH", "S": "SOUTH", "E": "EAST", "W": "WEST"}


def _street_keys(idx: Index, street: ParsedStreet) -> tuple[list[str], float]:
    """Layer street keys for a parsed street, with a match score (1 exact … lower for fuzzy)."""
    keys, score = _street_keys_as_parsed(idx, street)
    if not keys and street.direction:
        # "East End Ave", "West Circle Ave": the direction word was part of the name.
        whole = ParsedStreet("", f"{SPELLED[street.direction]} {street.name}", street.type)
        keys, score = _street_keys_as_parsed(idx, whole)
    return keys, score


def _street_keys_as_parsed(idx: Index, street: ParsedStreet) -> tuple[list[str], float]:
    if street.type and street.key in idx.streets:
        return [street.key], 1.0
    if street.name in idx.by_name:
        keys = sorted(set(idx.by_name[street.name]))
        if street.type:
            typed = [k for k in keys if k.endswith(" " + street.type)]
            return (typed, 1.0) if typed else (keys, 0.9)
        # A numbered street without its type is the grid's numbered street ("78th" is 78th St, not 78th Pl).
        default = idx.grid.numbered_type
        if default and street.name[:1].isdigit() and f"{street.name} {default}" in keys:
            return [f"{street.name} {default}"], 0.9
        return keys, 0.95
    if len(street.name) == 1 and f"AVENUE {street.name}" in idx.by_name:  # "Avenue J" parsed as type + "J"
        return sorted(set(idx.by_name[f"AVENUE {street.name}"])), 0.95
    # A typo: the closest names in the layer's vocabulary, with the type when one was given and without it
    # (the City writes "N Broadway St"; Broadway has no type). Near-ties all stay: "cliton" is as close to
    # Clinton as to Clifton, and the house number then says which street has it (else: ambiguous).
    scored: list[tuple[float, list[str]]] = []
    if street.type:
        scored += [(0.85 * score / 100, [key]) for key, score, _ in process.extract(
            street.key, idx.vocabulary, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=5)]
    if len(street.name) >= 4:  # shorter is too short to guess from
        for name, score, _ in process.extract(street.name, list(idx.by_name), scorer=fuzz.ratio,
                                              score_cutoff=FUZZY_CUTOFF, limit=5):
            keys = sorted(set(idx.by_name[name]))
            typed = [k for k in keys if street.type and k.endswith(" " + street.type)]
            scored.append((0.8 * score / 100, typed or keys))
    if not scored:
        return [], 0.0
    best = max(score for score, _ in scored)
    return sorted({k for score, keys in scored if score >= best - FUZZY_TIE for k in keys}), best


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * M_PER_DEG * math.cos(math.radians(a[1])), (a[1] - b[1]) * M_PER_DEG)


def _place_on_street(pts: np.ndarray, axis: str, value: float) -> tuple[float, float] | None:
    """Where a street crosses latitude (axis "lat") or longitude `value`: between its nearest points either side."""
    col, other = (1, 0) if axis == "lat" else (0, 1)
    slack = COVER_SLACK_M / M_PER_DEG / (1.0 if axis == "lat" else math.cos(math.radians(float(pts[0, 1]))))
    coord = pts[:, col]
    if value < coord.min() - slack or value > coord.max() + slack:
        return None
    below = pts[coord <= value]
    above = pts[coord >= value]
    if len(below) == 0 or len(above) == 0:
        p = pts[np.argmin(np.abs(coord - value))]
        out = [0.0, 0.0]
        out[col], out[other] = value, float(p[other])
        return (out[0], out[1])
    b = below[np.argmax(below[:, col])]
    a = above[np.argmin(above[:, col])]
    span = a[col] - b[col]
    t = 0.0 if span == 0 else (value - b[col]) / span
    out = [0.0, 0.0]
    out[col] = value
    out[other] = float(b[other] + t * (a[other] - b[other]))
    return (out[0], out[1])


def _zip_near(idx: Index, key: str, spot: tuple[float, float]) -> str:
    """The postcode of the street's corner nearest `spot` ("" where the layer has none)."""
    ids = list(idx.nodes_of.get(key, ()))
    if not ids or not idx.zip_of:
        return ""
    nearest = min(ids, key=lambda i: _metres(idx.node_xy[i], spot))
    return idx.zip_of.get(nearest, "")


def _address_point(idx: Index, parsed: ParsedAddress, keys: list[str], match: float, text: str) -> Result | None:
    """An address point with this number on this street (and direction, when given), if the layers have one."""
    assert parsed.street is not None and parsed.number is not None
    hits = [(d, x, y, z, k) for k in keys for d, x, y, z in idx.points.get((k, parsed.number), [])
            if not parsed.street.direction or not d or d == parsed.street.direction]
    if not hits:
        return None
    if parsed.postcode and any(z == parsed.postcode for *_, z, _ in hits):
        hits = [h for h in hits if h[3] == parsed.postcode]
    places: list[tuple[str, float, float, str, str]] = []
    for h in hits:
        if all(_metres((h[1], h[2]), (p[1], p[2])) > SAME_CORNER_M for p in places):
            places.append(h)
    d, x, y, _, k = places[0]
    label = f"{parsed.number} {d + ' ' if d else ''}{k}"
    if len(places) > 1:
        return Result(text, "ambiguous", "point", x, y, match * 0.5, address=label,
                      candidates=[{"address": f"{parsed.number} {p[0]} {p[4]}".replace("  ", " "),
                                   "lon": round(p[1], 6), "lat": round(p[2], 6)} for p in places])
    return Result(text, "matched", "point", x, y, match, address=label)


def _between_points(idx: Index, parsed: ParsedAddress, keys: list[str], match: float, text: str) -> Result | None:
    """Between the nearest address points either side on the same street, side (parity) and hundred-block:
    where a city has address points, its own neighbours place a missing number better than the grid."""
    assert parsed.street is not None and parsed.number is not None
    n = parsed.number
    block = idx.grid.block
    for key in keys:
        same = [p for p in idx.along.get(key, ()) if p[0] % 2 == n % 2 and p[0] // block == n // block
                and (not parsed.street.direction or not p[1] or p[1] == parsed.street.direction)]
        below = [p for p in same if p[0] < n]
        above = [p for p in same if p[0] > n]
        if not below or not above:
            continue
        lo, hi = below[-1], above[0]
        if lo[1] != hi[1] or _metres((lo[2], lo[3]), (hi[2], hi[3])) > BETWEEN_POINTS_M:
            continue  # not one stretch of one street
        t = (n - lo[0]) / (hi[0] - lo[0])
        x, y = lo[2] + t * (hi[2] - lo[2]), lo[3] + t * (hi[3] - lo[3])
        return Result(text, "matched", "interpolated", x, y, match * 0.95,
                      address=f"{n} {lo[1] + ' ' if lo[1] else ''}{key}")
    return None


def _ranged(idx: Index, parsed: ParsedAddress, keys: list[str], match: float, text: str) -> Result | None:
    """Interpolate along a ranged centreline whose range on the number's side (parity) holds it."""
    assert parsed.street is not None and parsed.number is not None
    n = parsed.number
    places: list[tuple[float, float, str, str]] = []
    for key in keys:
        for d, lf, lt, rf, rt, lz, rz, coords in idx.ranges.get(key, []):
            if parsed.street.direction and d and d != parsed.street.direction:
                continue
            for side, lo, hi, z in (("L", lf, lt, lz), ("R", rf, rt, rz)):
                if lo is None or hi is None or not min(lo, hi) <= n <= max(lo, hi) or (lo % 2) != (n % 2):
                    continue
                if parsed.postcode and z and z != parsed.postcode:
                    continue
                t = 0.5 if hi == lo else (n - lo) / (hi - lo)
                x, y = _along(coords, t, side, idx.grid.setback_m or 10.0)
                places.append((x, y, d, key))
    if not places:
        return None
    distinct: list[tuple[float, float, str, str]] = []
    for p in places:
        if all(_metres((p[0], p[1]), (q[0], q[1])) > SAME_CORNER_M for q in distinct):
            distinct.append(p)
    x, y, d, key = distinct[0]
    label = f"{n} {d + ' ' if d else ''}{key}"
    if len(distinct) > 1:
        return Result(text, "ambiguous", "interpolated", x, y, match * 0.5, address=label,
                      candidates=[{"address": f"{n} {p[2]} {p[3]}".replace("  ", " "), "lon": round(p[0], 6),
                                   "lat": round(p[1], 6)} for p in distinct])
    return Result(text, "matched", "interpolated", x, y, match, address=label)


def _along(coords: list[tuple[float, float]], t: float, side: str, setback_m: float) -> tuple[float, float]:
    """The point a share `t` of the way along a line, moved `setback_m` to its left or right."""
    pairs = list(itertools.pairwise(coords))
    lengths = [_metres(a, b) for a, b in pairs]
    target = max(0.0, min(1.0, t)) * sum(lengths)
    for i, ((a, b), seg) in enumerate(zip(pairs, lengths, strict=True)):
        if target <= seg or i == len(pairs) - 1:
            f = 0.0 if seg == 0 else min(1.0, target / seg)
            x, y = a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])
            kx = M_PER_DEG * math.cos(math.radians(y))
            dx, dy = (b[0] - a[0]) * kx, (b[1] - a[1]) * M_PER_DEG
            norm = math.hypot(dx, dy) or 1.0
            sign = 1.0 if side == "L" else -1.0  # left of the direction of travel
            return x + sign * (-dy / norm) * setback_m / kx, y + sign * (dx / norm) * setback_m / M_PER_DEG
        target -= seg
    return coords[-1]


def _corner(idx: Index, mine: set[int], other: str, on_ns: bool) -> tuple[float, float] | None:
    """Where a street (its corner ids `mine`) meets `other`: the position along the axis (latitude for a
    north-south number, longitude for an east-west one; the median where a wide street meets it twice) and
    the latitude of one of those corners. None where they do not meet."""
    common = mine & idx.nodes_of.get(other, set())
    if not common:
        return None
    coords = np.array([idx.node_xy[n] for n in common])
    return float(np.median(coords[:, 1 if on_ns else 0])), float(coords[0, 1])


def _local_axis(idx: Index, key: str, on_ns: bool) -> Axis | None:
    """Number → position along `key` from its own corners with the grid streets crossing it (the grid is not
    perfectly square: a street's own corners beat the citywide median)."""
    cache_key = (key, on_ns)
    if cache_key not in idx.local:
        grid_streets = idx.grid.ns_streets if on_ns else idx.grid.ew_streets
        mine = idx.nodes_of.get(key, set())
        points = []
        for other, number in grid_streets.items():
            corner = _corner(idx, mine, other, on_ns)
            if corner is not None:
                position, latitude = corner
                # A corner far from where the citywide grid puts that number is not on the grid line (a street
                # that bends away from it): trust it no more than the grid.
                try:
                    expected = (idx.grid.north_south if on_ns else idx.grid.east_west).position(number)
                except GridError:
                    expected = position  # no citywide grid to check against
                metres = abs(position - expected) * M_PER_DEG * (1.0 if on_ns else math.cos(math.radians(latitude)))
                if metres <= LOCAL_TRUST_M:
                    points.append((number, position))
        typical = idx.typical_block
        kink = None
        if typical and points:
            scale = M_PER_DEG * (1.0 if on_ns else math.cos(math.radians(idx.middle(key)[1])))
            kink = KINK_BLOCKS * typical / scale
        idx.local[cache_key] = local_axis(points, idx.grid.north_south if on_ns else idx.grid.east_west,
                                          long_span=8 * idx.grid.block, kink=kink)
    return idx.local[cache_key]


def _street_axis(idx: Index, key: str, on_ns: bool, signed: float | None = None) -> Axis:
    """Number → position for `key`: its own corners with grid streets where it has them near the number, else
    its nearest parallel grid streets' own axes (a short street takes its numbers from the streets beside it;
    so does a street in pieces, between its pieces), else the citywide grid."""
    own = _local_axis(idx, key, on_ns)
    if own is not None and (signed is None or _own_gap(own, signed) <= OWN_GAP_BLOCKS * idx.grid.block):
        return own if signed is None else _filled(idx, key, on_ns, own, signed)
    hundred = "" if signed is None else str(int(signed // idx.grid.block))  # neighbours chosen per hundred
    cache_key = (f"~{key}~{hundred}", on_ns)
    if cache_key not in idx.local:
        idx.local[cache_key] = _neighbour_axis(idx, key, on_ns, signed)
    return idx.local[cache_key] or own or (idx.grid.north_south if on_ns else idx.grid.east_west)


def _filled(idx: Index, key: str, on_ns: bool, own: Axis, signed: float) -> Axis:
    """`own` with the gap around `signed` shaped like the streets beside it: where the street skips a hundred
    line (it does not cross Roosevelt Rd, or a park cuts it), its two corners either side stay where they
    are and the hundred lines between them fall where the parallel grid streets have them, scaled to fit.
    Blocks are not equal (the South Loop's are 70 m near 11th St, 200 m elsewhere): a straight line between
    two distant corners puts the numbers between them 100 m off."""
    nums = own.numbers
    if not nums[0] < signed < nums[-1]:
        return own
    i = int(np.searchsorted(nums, signed))
    lo, hi = float(nums[i - 1]), float(nums[i])
    if hi - lo <= idx.grid.block:
        return own
    cache_key = (f"+{key}+{lo}", on_ns)
    if cache_key not in idx.local:
        filled = own
        beside = _neighbour_axis(idx, key, on_ns, (lo + hi) / 2)
        if beside is not None:
            inner = [float(n) for n in beside.numbers if lo < n < hi]
            b_lo, b_hi = beside.position(lo), beside.position(hi)
            if inner and b_hi != b_lo:
                p_lo, p_hi = own.position(lo), own.position(hi)
                scale = (p_hi - p_lo) / (b_hi - b_lo)
                extra = [(n, p_lo + (beside.position(n) - b_lo) * scale) for n in inner]
                filled = Axis(np.array([*nums[:i], *[n for n, _ in extra], *nums[i:]]),
                              np.array([*own.positions[:i], *[p for _, p in extra], *own.positions[i:]]),
                              beyond=own.beyond, long_span=own.long_span)
        idx.local[cache_key] = filled
    return idx.local[cache_key] or own


def _own_gap(axis: Axis, signed: float) -> float:
    """How far (in numbers) a number is from the axis's own points: past its ends, the distance to the last
    one; inside, half the gap between the two around it."""
    x = axis.numbers
    if signed <= x[0]:
        return float(x[0] - signed)
    if signed >= x[-1]:
        return float(signed - x[-1])
    i = int(np.searchsorted(x, signed))
    return float(x[i] - x[i - 1]) / 2


def _neighbour_axis(idx: Index, key: str, on_ns: bool, signed: float | None) -> Axis | None:
    """The own axes of the best parallel grid street on each side of `key` (within NEIGHBOUR_REACH_BLOCKS
    typical blocks), blended: "best" and the weights count the distance across to it plus how far the number
    is from its own corners, both in metres (a street beside it that stops short of the number is worth
    less than one a little further that reaches it); one side alone if the other has none."""
    if not idx.typical_block:
        return None
    across = 0 if on_ns else 1  # parallel streets lie apart in longitude (north-south streets) or latitude
    mine = idx.middle(key)[across]
    scale = M_PER_DEG * (math.cos(math.radians(idx.middle(key)[1])) if on_ns else 1.0)
    reach = NEIGHBOUR_REACH_BLOCKS * idx.typical_block
    per_number = idx.typical_block / idx.grid.block  # metres
    family = idx.grid.ew_streets if on_ns else idx.grid.ns_streets  # the grid streets running the same way
    below: tuple[float, Axis] | None = None
    above: tuple[float, Axis] | None = None
    for other in family:
        if other == key or other not in idx.streets:
            continue
        gap = (idx.middle(other)[across] - mine) * scale
        axis = _local_axis(idx, other, on_ns) if abs(gap) <= reach else None
        if axis is None:
            continue
        cost = abs(gap) + (0.0 if signed is None else _own_gap(axis, signed) * per_number)
        if gap <= 0 and (below is None or cost < below[0]):
            below = (cost, axis)
        if gap > 0 and (above is None or cost < above[0]):
            above = (cost, axis)
    if below is None or above is None:
        side = below or above
        return side[1] if side else None
    numbers = np.union1d(below[1].numbers, above[1].numbers)
    w = above[0] / (above[0] + below[0]) if above[0] + below[0] > 0 else 0.5  # the cheaper side weighs more
    positions = np.array([w * below[1].position(float(n)) + (1 - w) * above[1].position(float(n)) for n in numbers])
    return Axis(numbers, positions, beyond=idx.grid.north_south if on_ns else idx.grid.east_west,
                long_span=8 * idx.grid.block)


def _setback(idx: Index, spot: tuple[float, float], number: int, on_ns: bool) -> tuple[float, float]:
    """Move off the centreline to the side the number's parity is on (buildings, not the middle of the road)."""
    g = idx.grid
    if not g.setback_m or not g.even_side:
        return spot
    even = number % 2 == 0
    if on_ns:  # a north-south street: sides are east and west
        side = g.even_side.get("NS", "W")
        west = (side == "W") == even
        dlon = g.setback_m / (M_PER_DEG * math.cos(math.radians(spot[1])))
        return (spot[0] - dlon if west else spot[0] + dlon, spot[1])
    side = g.even_side.get("EW", "N")
    north = (side == "N") == even
    dlat = g.setback_m / M_PER_DEG
    return (spot[0], spot[1] + dlat if north else spot[1] - dlat)


def _orientation(pts: np.ndarray) -> str:
    lat_span = (pts[:, 1].max() - pts[:, 1].min()) * M_PER_DEG
    lon_span = (pts[:, 0].max() - pts[:, 0].min()) * M_PER_DEG * math.cos(math.radians(float(pts[0, 1])))
    return "NS" if lat_span >= lon_span else "EW"


def _address(idx: Index, parsed: ParsedAddress, text: str) -> Result:
    assert parsed.street is not None and parsed.number is not None
    keys, match = _street_keys(idx, parsed.street)
    if not keys:
        return Result(text, "unmatched", "none", message=f"no street named {parsed.street.key!r} in the street layer")
    found = (_address_point(idx, parsed, keys, match, text) or _between_points(idx, parsed, keys, match, text)
             or _ranged(idx, parsed, keys, match, text))
    if found is not None:
        return _other_halves(idx, parsed, keys, found)
    places = _grid_places(idx, parsed, keys)
    if not places:
        c = idx.middle(keys[0])
        return Result(text, "unmatched", "street", c[0], c[1], 0.3 * match, address=keys[0],
                      message=f"{parsed.number} is outside the numbers of {keys[0]} on the grid")
    distinct: list[tuple[float, float, str, str]] = []
    for p in places:
        if all(_metres((p[0], p[1]), (q[0], q[1])) > SAME_CORNER_M for q in distinct):
            distinct.append(p)
    distinct.sort(key=lambda p: -len(idx.streets[p[3]]))
    best = distinct[0]
    label = f"{parsed.number} {best[2]} {best[3]}"
    cands = [{"address": f"{parsed.number} {d} {k}", "lon": round(x, 6), "lat": round(y, 6)} for x, y, d, k in distinct]
    status = "ambiguous" if len(distinct) > 1 and not _dominant([len(idx.streets[p[3]]) for p in distinct]) \
        else "matched"
    if status == "ambiguous" and parsed.postcode:
        in_zip = [p for p in distinct if _zip_near(idx, p[3], (p[0], p[1])) == parsed.postcode]
        if len(in_zip) == 1:  # the postcode says which one
            best, status = in_zip[0], "matched"
            label = f"{parsed.number} {best[2]} {best[3]}"
    return Result(text, status, "interpolated", best[0], best[1], match * (0.5 if status == "ambiguous" else 1.0),
                  address=label, candidates=cands if len(distinct) > 1 else [])


def _grid_places(idx: Index, parsed: ParsedAddress, keys: list[str]) -> list[tuple[float, float, str, str]]:
    """(lon, lat, direction, key) where the grid puts the number on each street (each direction when none
    was given)."""
    assert parsed.street is not None and parsed.number is not None
    places: list[tuple[float, float, str, str]] = []
    for key in keys:
        pts = idx.streets[key]
        orient = _orientation(pts)
        d = parsed.street.direction
        dirs = [d] if d else (["N", "S"] if orient == "NS" else ["E", "W"])
        for direction in dirs:
            on_ns = direction in ("N", "S")
            axis = _street_axis(idx, key, on_ns, parsed.number * (1 if direction in ("N", "E") else -1))
            try:
                value = _position(idx, axis, parsed.number, direction)
            except GridError:
                continue  # no grid to place numbers with
            spot = _place_on_street(pts, "lat" if on_ns else "lon", value)
            if spot is not None:
                places.append((*_setback(idx, spot, parsed.number, on_ns), direction, key))
    return places


def _other_halves(idx: Index, parsed: ParsedAddress, keys: list[str], found: Result) -> Result:
    """An address point (or range) answers for its own half of the street only: "100 State St" with a point
    for 100 S State and none for 100 N State is still both, so it is ambiguous with both as candidates."""
    assert parsed.street is not None and parsed.number is not None
    if parsed.street.direction or found.status != "matched" or found.lon is None or found.lat is None:
        return found
    words = found.address.split(" ")
    mine = words[1] if len(words) > 2 and words[1] in ("N", "S", "E", "W") else ""
    others = [p for p in _grid_places(idx, parsed, keys) if p[2] != mine and p[3] == " ".join(words[2:])
              and _metres((p[0], p[1]), (found.lon, found.lat)) > SAME_CORNER_M]
    if parsed.postcode:
        others = [p for p in others if _zip_near(idx, p[3], (p[0], p[1])) == parsed.postcode]
    if not others:
        return found
    found.status, found.score = "ambiguous", found.score * 0.5
    found.candidates = [{"address": found.address, "lon": round(found.lon, 6), "lat": round(found.lat, 6)}] + [
        {"address": f"{parsed.number} {d} {k}", "lon": round(x, 6), "lat": round(y, 6), "kind": "interpolated"}
        for x, y, d, k in others]
    return found


def _intersection(idx: Index, parsed: ParsedAddress, text: str) -> Result:
    assert parsed.street is not None and parsed.cross is not None
    corners: list[tuple[float, float, str]] = []
    a_score = b_score = 0.0
    # The first reading of each street that gives a corner: as parsed, then wider ("67th" may be 67th Pl,
    # "North Shore" may be the street's whole name).
    for (a_keys, a_found), (b_keys, b_found) in (
            (_street_keys(idx, parsed.street), _street_keys(idx, parsed.cross)),
            (_wider_keys(idx, parsed.street), _wider_keys(idx, parsed.cross))):
        for a in a_keys:
            for b in b_keys:
                for node in idx.nodes_of.get(a, set()) & idx.nodes_of.get(b, set()):
                    x, y = idx.node_xy[node]
                    corners.append((x, y, f"{a} & {b}"))
        if corners:
            a_score, b_score = a_found, b_found
            break
    if not corners:
        return Result(text, "unmatched", "none",
                      message=f"no corner of {parsed.street.key!r} and {parsed.cross.key!r} in the street layer")
    groups: list[list[tuple[float, float, str]]] = []
    for c in corners:
        for g in groups:
            if _metres((c[0], c[1]), (g[0][0], g[0][1])) <= SAME_CORNER_M:
                g.append(c)
                break
        else:
            groups.append([c])
    spots = [(float(np.mean([c[0] for c in g])), float(np.mean([c[1] for c in g])), g[0][2]) for g in groups]
    weight = {s[2]: math.prod(len(idx.streets[k]) for k in s[2].split(" & ")) for s in spots}
    spots.sort(key=lambda s: -weight[s[2]])
    best = spots[0]
    score = min(a_score, b_score)
    if len(spots) > 1 and _dominant([weight[s[2]] for s in spots]):
        return Result(text, "matched", "intersection", best[0], best[1], score * 0.9, address=best[2],
                      candidates=[{"address": s[2], "lon": round(s[0], 6), "lat": round(s[1], 6)} for s in spots])
    if len(spots) > 1:
        return Result(text, "ambiguous", "intersection", best[0], best[1], score * 0.5, address=best[2],
                      candidates=[{"address": s[2], "lon": round(s[0], 6), "lat": round(s[1], 6)} for s in spots])
    return Result(text, "matched", "intersection", best[0], best[1], score, address=best[2])


def _wider_keys(idx: Index, street: ParsedStreet) -> tuple[list[str], float]:
    """Every street the words could name: all types of the name, and the name with its direction word."""
    keys = set(idx.by_name.get(street.name, []))
    if street.direction:
        keys |= set(idx.by_name.get(f"{SPELLED[street.direction]} {street.name}", []))
    return sorted(keys), 0.8


def _dominant(sizes: list[int]) -> bool:
    """One reading is on the main street (5 times the corners of the next): it is the answer, with the others
    listed as candidates ("Halsted" is Halsted St, not the short Halsted Pkwy)."""
    ordered = sorted(sizes, reverse=True)
    return len(ordered) > 1 and ordered[0] >= 5 * ordered[1]


def geocode(text: str) -> Result:
    return geocode_many([text])[0]


def geocode_many(texts: list[str]) -> list[Result]:
    """Geocode many lines; the wards come from one set-based lookup, not one query per line."""
    idx = index()
    out: list[Result] = []
    for text in texts:
        try:
            parsed = parse(text)
        except ValueError as exc:
            out.append(Result(text, "unmatched", "none", message=str(exc)))
            continue
        if parsed.street is None:
            out.append(Result(text, "unmatched", "none", message="no street found"))
        elif parsed.is_intersection:
            out.append(_intersection(idx, parsed, text))
        elif parsed.number is None:
            out.append(Result(text, "unmatched", "none", message="a house number or a second street is needed "
                                                                  "(e.g. '1234 N Ashland Ave' or 'Clark & Division')"))
        else:
            out.append(_address(idx, parsed, text))
    located = [r for r in out if r.lon is not None and r.lat is not None]
    if located:
        wards = assign_wards(located)
        for r, w in zip(located, wards, strict=True):
            r.ward = w
            if r.ward is None and r.status != "unmatched":
                r.status, r.message = "unmatched", "the place is outside the city"
    return out


def assign_wards(results: list[Result], on: dt.date | None = None) -> list[int | None]:
    """The ward of each located result (one set-based lookup; the map in force `on` a date, default today).
    A corner on the city limit lies on the boundary line itself: the ward within a few metres counts."""
    points = [point_from_lonlat(r.lon, r.lat) for r in results]
    wards = wards_at(points, on=on)
    return [w if w is not None else nearest_ward(p, BOUNDARY_SLACK_M, on=on)
            for p, w in zip(points, wards, strict=True)]


# ---- reverse ------------------------------------------------------------------------------------------------

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


def _signed_at(idx: Index, axis: Axis, value: float) -> float:
    """The signed house number (north / east positive) at a position on an axis: the inverse of `_position`,
    the block profile included."""
    nums, pos = axis.numbers, axis.positions
    if value <= pos[0]:
        signed = nums[0] + (value - pos[0]) * (nums[1] - nums[0]) / (pos[1] - pos[0])
    elif value >= pos[-1]:
        signed = nums[-1] + (value - pos[-1]) * (nums[-1] - nums[-2]) / (pos[-1] - pos[-2])
    else:
        signed = float(np.interp(value, pos, nums))
    sign = 1 if signed >= 0 else -1
    block = idx.grid.block
    low, high = _stretch(axis, abs(float(signed)), sign, block)
    p0, p1 = axis.position(sign * low), axis.position(sign * high)
    if p1 == p0:
        return float(signed)
    return sign * (low + idx.grid.profile.remainder((value - p0) / (p1 - p0)) * (high - low) / block)


def grid_ranges() -> dict[str, Any]:
    """Ranged centrelines for a city that has none: every named segment of the street layer with the house
    numbers the grid model gives its two ends, by side and parity, as a GeoJSON FeatureCollection with the
    TIGER/Line ADDRFEAT fields (FULLNAME, LFROMHN, LTOHN, RFROMHN, RTOHN, ZIPL, ZIPR), so `import_addresses
    --format tiger` (or any GIS) reads it back. A number on a corner belongs to the block it starts."""
    idx = index()
    features = []
    seen: set[tuple[int, int]] = set()
    for u, v, name, coords in StreetEdge.objects.filter(layer_version_id=idx.version).exclude(name="").values_list(
            "u", "v", "name", "geom"):
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
        features.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [
            [round(x, 6), round(y, 6)] for x, y in line]}, "properties": {
            "FULLNAME": f"{direction} {key}", "LFROMHN": left[0], "LTOHN": left[1], "RFROMHN": right[0],
            "RTOHN": right[1], "ZIPL": zipcode, "ZIPR": zipcode}})
    return {"type": "FeatureCollection", "features": features,
            "properties": {"source": f"street layer v{idx.version} + address grid {Path(settings.CITY_GRID).name}",
                           "profile": idx.grid.profile.describe()}}


def reverse(lon: float, lat: float) -> dict[str, Any]:
    return reverse_many([(lon, lat)])[0]


def reverse_many(places: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """What is at each (lon, lat), in the shape forward geocoding answers with: the nearest address point if
    one is within ADDRESS_POINT_REACH_M (kind "point"), else the number the grid gives the point on the
    nearest named street segment (else the nearer street of its nearest corner), on the side it is on (kind
    "interpolated"); the nearest corner ("near N CLARK ST & W DIVISION ST"); the ward with the distance to
    its nearest edge (a pin that close to a ward line is worth a second look), and the community area.
    Set-based: one KNN query (`<->` on the GiST index) each for the corners, the segments and the address
    points, one for the wards, one for the areas."""
    from layers.lookup import LayerNotLoaded, areas_with_edges

    checked = [checked_lonlat(lon, lat) for lon, lat in places]
    lons, lats = [x for x, _ in checked], [y for _, y in checked]
    try:
        idx: Index | None = index()
    except GeocoderNotReady:
        idx = None  # no street layer: the ward, the area and any address point still answer
    corners: list[tuple[Any, ...]] = [(None,) * 5] * len(checked)
    along: list[tuple[Any, ...]] = [(None, None)] * len(checked)
    if idx is not None:
        corners = _nearest_each(lons, lats, StreetCorner, "street_1, street_2, ST_X(geom), ST_Y(geom)",
                                "layer_version_id = %s", [idx.version])
        # The street the point lies along: the nearest named segment of the street layer.
        along = _nearest_each(lons, lats, StreetEdge, "name", "layer_version_id = %s AND name <> ''",
                              [idx.version])
    versions = list(LayerVersion.objects.filter(kind=LayerKind.ADDRESSES).active().values_list("pk", flat=True))
    nearest: list[Any] = [None] * len(checked)
    if versions:
        nearest = [row if row[3] is not None and row[3] <= ADDRESS_POINT_REACH_M else None
                   for row in _nearest_each(lons, lats, AddressPoint, "number_text, direction, street",
                                            "layer_version_id = ANY(%s)", [versions])]
    wards = areas_with_edges(LayerKind.WARDS, checked)
    try:
        areas = areas_with_edges(LayerKind.COMMUNITY_AREAS, checked, with_edge_distance=False)
    except LayerNotLoaded:
        areas = []
    return [_reverse_one(idx, lon, lat, corner, street, found, ward, areas[i] if areas else None)
            for i, (lon, lat, corner, street, found, ward) in enumerate(zip(lons, lats, corners, along, nearest,
                                                                            wards, strict=True))]


def _nearest_each(lons: list[float], lats: list[float], model: Any, columns: str, where: str,
                  params: list[Any]) -> list[tuple[Any, ...]]:
    """For each point, in order, `columns` of the nearest row of `model` (KNN `<->` on its GiST index) and its
    distance in metres last; all None where the table has no row."""
    point = "ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326)"
    with connection.cursor() as cur:
        cur.execute(f"SELECT n.* FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS u(lon, lat, i) "
                    f"LEFT JOIN LATERAL (SELECT {columns}, ST_Distance(geom::geography, {point}::geography) "
                    f"FROM {model._meta.db_table} WHERE {where} ORDER BY geom <-> {point} LIMIT 1) n ON true "
                    f"ORDER BY u.i", [lons, lats, *params])
        return [tuple(row) for row in cur.fetchall()]


def _reverse_one(idx: Index | None, lon: float, lat: float, corner: tuple[Any, ...], segment: tuple[Any, ...],
                 found: tuple[Any, ...] | None, ward: Any, area: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input": f"{lon},{lat}", "status": "unmatched", "kind": "none", "lon": round(lon, 6), "lat": round(lat, 6),
        "score": 0.0, "address": "", "ward": ward.number, "candidates": [],
        "ward_edge_m": None if ward.edge_distance_m is None else round(ward.edge_distance_m, 1),
        "near_ward_edge": bool(ward.number is not None and ward.edge_distance_m is not None
                               and ward.edge_distance_m < settings.WARD_EDGE_WARNING_METRES),
        "community_area": {"number": area.number, "name": area.name} if area and area.number is not None else None,
        "intersection": "", "intersection_m": None, "address_m": None}
    if found is not None:
        number, direction, street, metres = found
        out.update(status="matched", kind="point", score=1.0, address=" ".join(
            part for part in (str(number), direction, street) if part), address_m=round(float(metres), 1))
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
                out.update(status="matched", kind="interpolated", score=0.8,
                           address=f"{numbered[0]} {numbered[1]} {best[1]}", address_m=round(best[0], 1))
            else:
                out.update(status="matched", kind="intersection", score=0.6, address=f"{a} & {b}")
    if ward.number is None:
        out["status"] = "unmatched"  # named for the caller's benefit, but not a place in the city
        out["message"] = "the point is outside the city" + (f" ({out['message']})" if out.get("message") else "")
    return out


# ---- suggestions (autocomplete) -----------------------------------------------------------------------------

_LEADING = re.compile(r"^\s*(\d+)?\s*(?:(N|S|E|W|NORTH|SOUTH|EAST|WEST)\s+)?(.*)$")


def suggest(text: str, limit: int = 6) -> list[dict[str, Any]]:
    """Ranked completions for partial input ("1234 n ashl" → 1234 N ASHLAND AVE, …; "clark & div" → CLARK ST
    & DIVISION ST): streets whose name starts with what was typed (the longest streets first, a typo
    tolerated when nothing starts so), each placed with the number given, or the corners of the first street
    with the streets starting so. Every suggestion is a full forward result: address, kind, lon/lat, ward."""
    idx = index()
    words = " ".join(text.upper().replace(",", " ").replace(".", " ").split())
    if not words:
        return []
    halves = SEPARATORS.split(words, maxsplit=1)
    if len(halves) == 2:
        first = _completions(idx, halves[0], 3)
        second = halves[1].strip()
        texts = []
        for a in first:
            crossing = {k for k in idx.streets if k != a and k.startswith(_without_direction(second))
                        and idx.nodes_of.get(a, set()) & idx.nodes_of.get(k, set())}
            texts += [f"{a} & {b}" for b in sorted(crossing, key=lambda k: (-len(idx.streets[k]), k))]
        texts = texts[:limit]
    else:
        m = _LEADING.match(words)
        assert m is not None  # every string matches (all parts optional)
        number, direction, rest = m.group(1), DIRECTIONS.get(m.group(2) or "", ""), m.group(3)
        streets = _completions(idx, rest, limit)
        if number is None:
            return [{"address": k, "kind": "street", "lon": round(idx.middle(k)[0], 6),
                     "lat": round(idx.middle(k)[1], 6), "ward": None} for k in streets]
        texts = [f"{number} {direction} {k}".replace("  ", " ") for k in streets]
    out = []
    for r in geocode_many(texts):
        if r.status == "unmatched":
            continue
        places = r.candidates if r.status == "ambiguous" else [{"address": r.address, "lon": r.lon, "lat": r.lat}]
        for c in places:
            out.append({"address": c["address"], "kind": c.get("kind", r.kind),
                        "lon": None if c["lon"] is None else round(c["lon"], 6),
                        "lat": None if c["lat"] is None else round(c["lat"], 6),
                        "ward": r.ward if r.status == "matched" else None})
    return out[:limit]


def _without_direction(words: str) -> str:
    parts = words.split(" ", 1)
    return parts[1] if len(parts) == 2 and parts[0] in DIRECTIONS else words


def _completions(idx: Index, typed: str, limit: int) -> list[str]:
    """Street keys that start with what was typed (a direction word dropped, types spelled out accepted),
    longest streets first; by typo-tolerant similarity when none does."""
    typed = _without_direction(typed.strip())
    if not typed:
        return []
    words = typed.split(" ")
    spelled = " ".join([*words[:-1], TYPES.get(words[-1], words[-1])]) if len(words) > 1 else typed
    starts = [k for k in idx.vocabulary if k.startswith(typed) or k.startswith(spelled)
              or k.startswith(_ordinal_prefix(typed))]
    if starts:
        return sorted(starts, key=lambda k: (-len(idx.streets[k]), k))[:limit]
    if len(typed) < 4:
        return []
    # A typo: names whose beginning (as long as what was typed, give or take a letter) is closest to it.
    found = process.extract(typed, idx.vocabulary, scorer=_prefix_ratio, limit=limit * 3, score_cutoff=FUZZY_CUTOFF)
    return [k for k, _, _ in sorted(found, key=lambda f: (-f[1], -len(idx.streets[f[0]]), f[0]))][:limit]


def _prefix_ratio(typed: str, key: str, **_: Any) -> float:
    return max(fuzz.ratio(typed, key[:len(typed) + d]) for d in (-1, 0, 1))


def _ordinal_prefix(typed: str) -> str:
    """'63' → '63RD' so a bare number completes to the numbered street."""
    head, _, tail = typed.partition(" ")
    if head.isdigit():
        suffix = "TH" if 10 <= int(head) % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(int(head) % 10, "TH")
        return f"{head}{suffix}{' ' + tail if tail else ''}"
    return typed
