"""Address points learned from a city's own located 311 history, for a city with no address file.

Most cities' 311 exports carry, for each request at a house address, the point the City placed it at. A
city without an address-point file (San Francisco's data has none, and its OSM has no addr:* tags) still
knows where thousands of its addresses are: one point per address (the median of its requests' points)
is an address-point layer like any other, recorded as its own layer version, and the geocoder places the
numbers between them on the same street (layers.geocoding.along).

Evaluation never scores an address against itself: `split_half` sends each address (number, direction and
normalised street, so "123 Valencia St" and "123 VALENCIA STREET, SF" are one address) to one half by the
CRC-32 of that key; benchmarks/geocode_city.py learns from one half and scores the other.
"""

from __future__ import annotations

import hashlib
import itertools
import statistics
import zlib
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from django.conf import settings
from scipy.spatial import cKDTree

from gis_app.models import ImportBatch, ServiceRequest
from layers.addresses import AddressImportReport, Row, import_address_rows
from layers.coords import local_plane
from layers.geocoding import GeocoderNotReady, index
from layers.geocoding.along import SLACK_M, consistent, metres_per_number
from layers.normalize import parse

# A request's point further than this from every corner of the street its address names is a misplaced
# point (a pin at the caller's home, a default centroid), not that address: half the longest block of a
# city like San Francisco (about 250 m between corners on its long blocks) plus a lot's depth.
REACH_M = 200.0

# A point is weighed against this many numbers either side of it on its street: 2 placed one more house than
# 3 on San Francisco's tuning half (split_half 0; the benchmark scores half 1), both under 3 % wrong.
NEIGHBOURS = 2

AddressKey = tuple[int, str, str]  # number, direction, normalised street


def address_key(text: str) -> AddressKey | None:
    """The house address a line names (None for a corner, a street without a number, another town)."""
    try:
        parsed = parse(text, settings.CITY_NAME)
    except ValueError:
        return None
    if parsed.street is None or parsed.number is None or parsed.is_intersection or parsed.other_place:
        return None
    return parsed.number, parsed.street.direction, parsed.street.key


def address_hash(key: AddressKey) -> int:
    """The CRC-32 of an address key: the same on every run and machine, for splits and folds by address."""
    return zlib.crc32(f"{key[0]} {key[1]} {key[2]}".encode())


def split_half(key: AddressKey) -> int:
    """0 or 1: which half of a split by address this address is in (the same on every run and machine)."""
    return address_hash(key) % 2


def history_points() -> dict[AddressKey, tuple[float, float]]:
    """Each house address of the located history, at the median of its requests' points."""
    batches = ImportBatch.objects.filter(kind="history").values_list("pk", flat=True)
    seen: dict[AddressKey, list[tuple[float, float]]] = defaultdict(list)
    rows = ServiceRequest.objects.filter(import_batch__in=list(batches), location__isnull=False).exclude(address="")
    for address, location in rows.values_list("address", "location"):
        key = address_key(address)
        if key is not None and location is not None:
            seen[key].append((location.x, location.y))
    return {k: (statistics.median(p[0] for p in pts), statistics.median(p[1] for p in pts)) for k, pts in seen.items()}


def _near_its_street(
    points: dict[AddressKey, tuple[float, float]],
) -> tuple[dict[AddressKey, tuple[float, float]], int]:
    """The points within REACH_M of a corner of the street they name, where the street layer can tell: a
    point outside the layer's reach (no corner of any street within REACH_M), or on a street the layer
    lacks, cannot be checked and is kept for a wider layer. Also how many were dropped."""
    try:
        idx = index()
    except GeocoderNotReady:
        return points, 0
    if not points or not idx.node_xy:
        return points, 0
    lat0 = statistics.median(y for _, y in points.values())
    everything = cKDTree(local_plane(list(idx.node_xy.values()), lat0))
    keys = list(points)
    spots = local_plane([points[k] for k in keys], lat0)
    covered = [bool(hits) for hits in everything.query_ball_point(spots, REACH_M)]
    kept: dict[AddressKey, tuple[float, float]] = {}
    for key, spot, inside in zip(keys, spots, covered, strict=True):
        corners = idx.streets.get(key[2])
        if inside and corners is not None and float(np.min(np.hypot(*(local_plane(corners, lat0) - spot).T))) > REACH_M:
            continue
        kept[key] = points[key]
    return kept, len(points) - len(kept)


def _in_line(rate: float, run: tuple[tuple[int, str, float, float], ...], lat0: float) -> bool:
    """Whether points of one street, in number order, could be one run of it: each as far from the next as
    their numbers say (`consistent`), and each lying between any lower and any higher one, give or take
    SLACK_M (projected on the line joining those two, so a bend between them does not count against it)."""
    if any(not consistent(rate, a, b) for a, b in itertools.pairwise(run)):
        return False
    xy = local_plane([(p[2], p[3]) for p in run], lat0)
    for i, j, k in itertools.combinations(range(len(run)), 3):
        span = xy[k] - xy[i]
        length = float(np.hypot(*span))
        along = float(np.dot(xy[j] - xy[i], span)) / length if length > 0 else 0.0
        if along < -SLACK_M or along > length + SLACK_M:
            return False
    return True


def _widest_line(
    rate: float,
    points: list[tuple[int, str, float, float]],
    lat0: float,
    *,
    holding: tuple[int, str, float, float] | None = None,
) -> int:
    """How many points the largest subset of `points` (in number order) that is one run of the street holds;
    with `holding`, the largest that also holds that point (counted)."""
    extra = [] if holding is None else [holding]
    for size in range(len(points), 0, -1):
        for run in itertools.combinations(points, size):
            if _in_line(rate, tuple(sorted([*run, *extra])), lat0):
                return size + len(extra)
    return len(extra)


def _without_strays(
    points: dict[AddressKey, tuple[float, float]],
) -> tuple[dict[AddressKey, tuple[float, float]], int]:
    """Drop a point its street's neighbours disown: among it and the NEIGHBOURS nearest numbers below it and
    above it, the longest run of the street they make without it (`_in_line`: spaced as their numbers say, in
    their numbers' order) is longer than any run with it, and holds two or more.
    A request placed at the wrong end of a long street would otherwise pull every number near it there; one
    placed on the wrong side of its neighbours is as far off, though close enough to one of them to pass a
    test of distance alone (3344 24th St filed 560 m past 3725, among 3164 and 3807)."""
    along: dict[str, list[tuple[int, str, float, float]]] = defaultdict(list)
    for (number, direction, street), (x, y) in points.items():
        along[street].append((number, direction, x, y))
    for row in along.values():
        row.sort()
    rate = metres_per_number(along)
    if rate is None:
        return points, 0
    lat0 = statistics.median(y for _, y in points.values())
    stray: set[AddressKey] = set()
    for street, row in along.items():
        for i, p in enumerate(row):
            near = row[max(0, i - NEIGHBOURS) : i] + row[i + 1 : i + 1 + NEIGHBOURS]
            without = _widest_line(rate, near, lat0)
            if without >= 2 and without > _widest_line(rate, near, lat0, holding=p):
                stray.add((p[0], p[1], street))
    return {k: v for k, v in points.items() if k not in stray}, len(stray)


def learn_address_points(
    *, keep: Callable[[AddressKey], bool] | None = None, dry_run: bool = False
) -> AddressImportReport:
    """Save the history's house addresses (those `keep` admits) as an address-point layer version: one
    transaction, a no-op when the same points are already loaded, the previous learned version retired."""
    points = history_points()
    if keep is not None:
        points = {k: v for k, v in points.items() if keep(k)}
    points, far = _near_its_street(points)
    points, strays = _without_strays(points)
    ordered = sorted(points.items())
    rows: list[Row | str] = [
        Row(str(number), f"{direction} {street}".strip(), x, y) for (number, direction, street), (x, y) in ordered
    ]
    rows += ["point far from the street its address names"] * far
    rows += ["point out of line with its street's neighbouring numbers"] * strays
    checksum = hashlib.sha256(repr([(k, round(x, 7), round(y, 7)) for k, (x, y) in ordered]).encode()).hexdigest()
    return import_address_rows(
        rows,
        name=f"{settings.CITY_NAME} address points learned from its 311 history",
        checksum=checksum,
        file_name="311 history",
        source="the located history requests' own points: one per house address, the median of its requests",
        licence="as the 311 export",
        dry_run=dry_run,
    )
