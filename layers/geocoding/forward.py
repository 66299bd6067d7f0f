"""Forward geocoding: a house address (address point, between points, ranged centreline, then the grid) or
an intersection, to a point with its kind, score and ward.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable

import numpy as np
from django.conf import settings

from layers.coords import point_from_lonlat
from layers.geocoding.along import along_street
from layers.geocoding.axes import _along, _place_on_street, _position, _setback, _street_axis
from layers.geocoding.base import (
    BETWEEN_POINTS_M,
    JOG_M,
    SAME_CORNER_M,
    UNUSED_TEXT_FACTOR,
    Index,
    Result,
    _metres,
    _orientation,
)
from layers.geocoding.index import index
from layers.geocoding.names import _street_keys, _wider_keys, _zip_near
from layers.geocoding.nudge import nudged
from layers.grid import GridError
from layers.lookup import wards_at
from layers.models import CommunityArea
from layers.normalize import COUNTING_UP, EAST_WEST, NORTH_SOUTH, SHORT_DIRECTIONS, ParsedAddress, parse


def _address_point(idx: Index, parsed: ParsedAddress, keys: list[str], match: float, text: str) -> Result | None:
    """An address point with this number on this street (and direction, when given), if the layers have one."""
    assert parsed.street is not None and parsed.number is not None
    hits = [
        (d, x, y, z, k)
        for k in keys
        for d, x, y, z in idx.points.get((k, parsed.number), [])
        if not parsed.street.direction or not d or d == parsed.street.direction
    ]
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
        return Result(
            text,
            "ambiguous",
            "point",
            x,
            y,
            match * 0.5,
            address=label,
            candidates=[
                {
                    "address": f"{parsed.number} {p[0]} {p[4]}".replace("  ", " "),
                    "lon": round(p[1], 6),
                    "lat": round(p[2], 6),
                }
                for p in places
            ],
        )
    return Result(text, "matched", "point", x, y, match, address=label)


def _between_points(idx: Index, parsed: ParsedAddress, keys: list[str], match: float, text: str) -> Result | None:
    """Between the nearest address points either side on the same street, side (parity) and hundred-block:
    where a city has address points, its own neighbours place a missing number better than the grid."""
    assert parsed.street is not None and parsed.number is not None
    n = parsed.number
    block = idx.grid.block
    for key in keys:
        same = [
            p
            for p in idx.along.get(key, ())
            if p[0] % 2 == n % 2
            and p[0] // block == n // block
            and (not parsed.street.direction or not p[1] or p[1] == parsed.street.direction)
        ]
        below = [p for p in same if p[0] < n]
        above = [p for p in same if p[0] > n]
        if not below or not above:
            continue
        lo, hi = below[-1], above[0]
        if lo[1] != hi[1] or _metres((lo[2], lo[3]), (hi[2], hi[3])) > BETWEEN_POINTS_M:
            continue  # not one stretch of one street
        t = (n - lo[0]) / (hi[0] - lo[0])
        x, y = lo[2] + t * (hi[2] - lo[2]), lo[3] + t * (hi[3] - lo[3])
        return Result(
            text, "matched", "interpolated", x, y, match * 0.95, address=f"{n} {lo[1] + ' ' if lo[1] else ''}{key}"
        )
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
        return Result(
            text,
            "ambiguous",
            "interpolated",
            x,
            y,
            match * 0.5,
            address=label,
            candidates=[
                {"address": f"{n} {p[2]} {p[3]}".replace("  ", " "), "lon": round(p[0], 6), "lat": round(p[1], 6)}
                for p in distinct
            ],
        )
    return Result(text, "matched", "interpolated", x, y, match, address=label)


def _address(idx: Index, parsed: ParsedAddress, text: str) -> Result:
    assert parsed.street is not None and parsed.number is not None
    keys, match = _street_keys(idx, parsed.street)
    if not keys:
        return Result(text, "unmatched", "none", message=f"no street named {parsed.street.key!r} in the street layer")
    found = (
        _address_point(idx, parsed, keys, match, text)
        or _between_points(idx, parsed, keys, match, text)
        or _ranged(idx, parsed, keys, match, text)
        # Without a grid, a street's own points place the numbers between and a little past them.
        or (None if idx.has_grid else along_street(idx, parsed, keys, match, text))
    )
    if found is not None:
        return _other_halves(idx, parsed, keys, found)
    places = _grid_places(idx, parsed, keys)
    if not places:
        c = idx.middle(keys[0])
        return Result(
            text,
            "unmatched",
            "street",
            c[0],
            c[1],
            0.3 * match,
            address=keys[0],
            message=(
                f"{parsed.number} is outside the numbers of {keys[0]} on the grid"
                if idx.has_grid
                else f"no address point, range or neighbouring points place {parsed.number} on {keys[0]}: "
                "answered at the street"
            ),
        )
    distinct: list[tuple[float, float, str, str]] = []
    for p in places:
        if all(_metres((p[0], p[1]), (q[0], q[1])) > SAME_CORNER_M for q in distinct):
            distinct.append(p)
    distinct.sort(key=lambda p: -len(idx.streets[p[3]]))
    best = distinct[0]
    label = f"{parsed.number} {best[2]} {best[3]}"
    cands = [{"address": f"{parsed.number} {d} {k}", "lon": round(x, 6), "lat": round(y, 6)} for x, y, d, k in distinct]
    # A bigger street wins over a short one of the same name only when the caller named the type: "1234 W 79th"
    # fits 79th St and 79th Pl, and picking the longer would silently answer the wrong one.
    untyped_readings = not parsed.street.type and len({p[3] for p in distinct}) > 1
    status = (
        "ambiguous"
        if len(distinct) > 1 and (untyped_readings or not _dominant([len(idx.streets[p[3]]) for p in distinct]))
        else "matched"
    )
    if status == "ambiguous" and parsed.postcode:
        in_zip = [p for p in distinct if _zip_near(idx, p[3], (p[0], p[1])) == parsed.postcode]
        if len(in_zip) == 1:  # the postcode says which one
            best, status = in_zip[0], "matched"
            label = f"{parsed.number} {best[2]} {best[3]}"
    return Result(
        text,
        status,
        "interpolated",
        best[0],
        best[1],
        match * (0.5 if status == "ambiguous" else 1.0),
        address=label,
        candidates=cands if len(distinct) > 1 else [],
    )


def _grid_places(idx: Index, parsed: ParsedAddress, keys: list[str]) -> list[tuple[float, float, str, str]]:
    """(lon, lat, direction, key) where the grid puts the number on each street (each direction when none
    was given)."""
    assert parsed.street is not None and parsed.number is not None
    places: list[tuple[float, float, str, str]] = []
    for key in keys:
        pts = idx.streets[key]
        orient = _orientation(pts)
        d = parsed.street.direction
        dirs = [d] if d else list(NORTH_SOUTH if orient == "NS" else EAST_WEST)
        for direction in dirs:
            grid_at = functools.partial(_grid_spot, idx, key, direction=direction)
            spot = nudged(idx, key, parsed.number, direction, grid_at)
            if spot is not None:
                places.append((*spot, direction, key))
    return places


def _grid_spot(idx: Index, key: str, number: int, direction: str) -> tuple[float, float] | None:
    """Where the grid puts `number` on street `key` in `direction`, one setback off the centreline (None when
    the grid cannot place it there)."""
    on_ns = direction in NORTH_SOUTH
    axis = _street_axis(idx, key, on_ns, number * (1 if direction in COUNTING_UP else -1))
    try:
        value = _position(idx, axis, number, direction)
    except GridError:
        return None  # no grid to place numbers with
    spot = _place_on_street(idx.streets[key], "lat" if on_ns else "lon", value)
    return None if spot is None else _setback(idx, spot, number, on_ns)


def _other_halves(idx: Index, parsed: ParsedAddress, keys: list[str], found: Result) -> Result:
    """An address point (or range) answers for its own half of the street only: "100 State St" with a point
    for 100 S State and none for 100 N State is still both, so it is ambiguous with both as candidates."""
    assert parsed.street is not None and parsed.number is not None
    if parsed.street.direction or found.status != "matched" or found.lon is None or found.lat is None:
        return found
    words = found.address.split(" ")
    mine = words[1] if len(words) > 2 and words[1] in SHORT_DIRECTIONS else ""
    others = [
        p
        for p in _grid_places(idx, parsed, keys)
        if p[2] != mine
        and p[3] == " ".join(words[2:])
        and _metres((p[0], p[1]), (found.lon, found.lat)) > SAME_CORNER_M
    ]
    if parsed.postcode:
        others = [p for p in others if _zip_near(idx, p[3], (p[0], p[1])) == parsed.postcode]
    if not others:
        return found
    found.status, found.score = "ambiguous", found.score * 0.5
    found.candidates = [{"address": found.address, "lon": round(found.lon, 6), "lat": round(found.lat, 6)}] + [
        {"address": f"{parsed.number} {d} {k}", "lon": round(x, 6), "lat": round(y, 6), "kind": "interpolated"}
        for x, y, d, k in others
    ]
    return found


def _intersection(idx: Index, parsed: ParsedAddress, text: str) -> Result:
    assert parsed.street is not None and parsed.cross is not None
    corners: list[tuple[float, float, str]] = []
    a_score = b_score = 0.0
    # The first reading of each street that gives a corner: as parsed, then wider ("67th" may be 67th Pl,
    # "North Shore" may be the street's whole name).
    for (a_keys, a_found), (b_keys, b_found) in (
        (_street_keys(idx, parsed.street), _street_keys(idx, parsed.cross)),
        (_wider_keys(idx, parsed.street), _wider_keys(idx, parsed.cross)),
    ):
        for a in a_keys:
            for b in b_keys:
                for node in idx.nodes_of.get(a, set()) & idx.nodes_of.get(b, set()):
                    x, y = idx.node_xy[node]
                    corners.append((x, y, f"{a} & {b}"))
        if corners:
            a_score, b_score = a_found, b_found
            break
    if not corners:
        return Result(
            text,
            "unmatched",
            "none",
            message=f"no corner of {parsed.street.key!r} and {parsed.cross.key!r} in the street layer",
        )
    # Corners closer than SAME_CORNER_M are one corner (a wide street listed twice); then the same two streets
    # meeting twice within JOG_M are one crossing (a jog, a divided street).
    same_corner = _middles(corners, lambda c, g: _metres((c[0], c[1]), (g[0][0], g[0][1])) <= SAME_CORNER_M)
    spots = _middles(
        same_corner, lambda s, g: g[0][2] == s[2] and any(_metres((s[0], s[1]), (o[0], o[1])) <= JOG_M for o in g)
    )
    weight = {s[2]: math.prod(len(idx.streets[k]) for k in s[2].split(" & ")) for s in spots}
    spots.sort(key=lambda s: -weight[s[2]])
    best = spots[0]
    score = min(a_score, b_score)
    # "Hoyne and 79th": corners with 79th St and with 79th Pl are two answers, whatever their lengths.
    untyped_readings = (not parsed.street.type or not parsed.cross.type) and len({s[2] for s in spots}) > 1
    if len(spots) > 1 and not untyped_readings and _dominant([weight[s[2]] for s in spots]):
        return Result(
            text,
            "matched",
            "intersection",
            best[0],
            best[1],
            score * 0.9,
            address=best[2],
            candidates=[{"address": s[2], "lon": round(s[0], 6), "lat": round(s[1], 6)} for s in spots],
        )
    if len(spots) > 1:
        return Result(
            text,
            "ambiguous",
            "intersection",
            best[0],
            best[1],
            score * 0.5,
            address=best[2],
            candidates=[{"address": s[2], "lon": round(s[0], 6), "lat": round(s[1], 6)} for s in spots],
        )
    return Result(text, "matched", "intersection", best[0], best[1], score, address=best[2])


Spot = tuple[float, float, str]  # lon, lat, "A & B"


def _middles(spots: list[Spot], joins: Callable[[Spot, list[Spot]], bool]) -> list[Spot]:
    """The spots grouped in order (each joins the first group `joins` admits it to, else starts one), each
    group answered at its middle under its first spot's label."""
    groups: list[list[Spot]] = []
    for s in spots:
        for g in groups:
            if joins(s, g):
                g.append(s)
                break
        else:
            groups.append([s])
    return [(float(np.mean([s[0] for s in g])), float(np.mean([s[1] for s in g])), g[0][2]) for g in groups]


def _dominant(sizes: list[int]) -> bool:
    """One reading is on the main street (5 times the corners of the next): it is the answer, with the others
    listed as candidates ("Halsted" is Halsted St, not the short Halsted Pkwy)."""
    ordered = sorted(sizes, reverse=True)
    return len(ordered) > 1 and ordered[0] >= 5 * ordered[1]


def geocode(text: str, *, with_wards: bool = True) -> Result:
    return geocode_many([text], with_wards=with_wards)[0]


def geocode_many(texts: list[str], *, with_wards: bool = True) -> list[Result]:
    """Geocode many lines; the wards come from one set-based lookup, not one query per line. Without
    `with_wards` a result carries no ward and a place outside the city is not marked so: for a caller that
    places the point on the ward map itself (intake's placement refuses a point outside the city), which would
    otherwise look every point up twice."""
    idx = index()
    out: list[Result] = []
    for text in texts:
        try:
            parsed = parse(text, settings.CITY_NAME)
        except ValueError as exc:
            out.append(Result(text, "unmatched", "none", message=str(exc)))
            continue
        if parsed.street is None:
            out.append(Result(text, "unmatched", "none", message="no street found"))
        elif parsed.is_intersection:
            out.append(_intersection(idx, parsed, text))
        elif parsed.number is None:
            out.append(
                Result(
                    text,
                    "unmatched",
                    "none",
                    message="a house number or a second street is needed "
                    "(e.g. '1234 N Ashland Ave' or 'Clark & Division')",
                )
            )
        elif parsed.other_place and not _local_place(parsed.other_place):
            out.append(_outside_city(_address(idx, parsed, text), parsed.other_place))
        else:
            unused = parsed.unused
            if parsed.other_place:  # a part of the city named in the tail is used, not stray text
                unused = " ".join(re.sub(re.escape(parsed.other_place), " ", unused, flags=re.IGNORECASE).split())
            out.append(_with_unused_text(_address(idx, parsed, text), unused))
    located = [r for r in out if r.lon is not None and r.lat is not None]
    if located and with_wards:
        wards = assign_wards(located)
        for r, w in zip(located, wards, strict=True):
            r.ward = w
            if r.ward is None and r.status != "unmatched":
                r.status, r.message = "unmatched", "the place is outside the city"
    return out


def assign_wards(results: list[Result], on: dt.date | None = None) -> list[int | None]:
    """The ward of each located result (one set-based lookup; the map in force `on` a date, default today).
    A corner on the city limit lies on the boundary line itself: layers.lookup's one edge rule places it."""
    return wards_at([point_from_lonlat(r.lon, r.lat) for r in results], on=on)


def _local_place(place: str) -> bool:
    """A place name that is part of the city (one of its community areas, "…, Lincoln Park"), not another town."""
    return CommunityArea.objects.filter(name__iexact=place).exists()


def _outside_city(found: Result, place: str) -> Result:
    """An address in another town ("1 Main St, Evanston") is not placed: the answer says it is outside the
    city, and names the nearest match in the city only as a suggestion the caller may confirm."""
    city = settings.CITY_NAME
    suggestion = []
    if found.address and found.lon is not None:
        suggestion = [{"address": found.address, "lon": found.lon, "lat": found.lat, "suggestion": True}]
    hint = f"; in {city}, the nearest match is {found.address} (a suggestion, not placed)" if suggestion else ""
    return Result(
        found.input,
        "outside_city",
        "none",
        candidates=suggestion,
        message=f"{place} is outside {city}: only addresses in {city} can be placed{hint}",
    )


def _with_unused_text(found: Result, unused: str) -> Result:
    """Words the parser could not place (another town, stray text) halve the score and are reported: the
    answer may still be right, but nobody should take it on trust."""
    if unused:
        found.score *= UNUSED_TEXT_FACTOR
        note = f"text not used: {unused[:80]!r}"
        found.message = f"{found.message}; {note}" if found.message else note
    return found
