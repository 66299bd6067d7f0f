"""`geocode_eval.py --city CITY`: forward geocoding on any loaded city, scored against its own 311 points.

The city's database (GIS311_DB, default gis311_<city>) holds its layers, street network and history
(`make demo CITY=<city>`, or the load commands). Test rows: the distinct addresses of the located history
requests whose own point lies inside the street layer's extent (the bounding box of the loaded networks, and
within 50 m of one of their streets), split into house addresses and intersections as the parser reads
them. Reference: the street layer, whatever address layers the city loaded, and address points learned from
the history's house addresses (gis_app.citydata.address_learning). Split by address (CRC-32 of the
normalised address): half 0 is where the thresholds were chosen; half 1 is scored in 5 folds, each with
points learned from every address outside the fold, so no scored address is its own reference. Peer (same
run): exact-name lookup only. Only point / interpolated / intersection results count as matched; a house
number answered at street level (`kind: street`) is counted apart. Intersections are split in halves by
their two streets (half 0 chose JOG_M; half 1 is scored) and scored where the layer has a corner: two
differently named streets within 50 m of the City's point (the rest are listed apart: the extract stops short
of one street).
"""

from __future__ import annotations

import statistics
import zlib
from typing import Any

from _common import Result
from django.db import connection, transaction

import layers.geocoding as geo
from gis_app.citydata.address_learning import (
    AddressKey,
    address_hash,
    address_key,
    learn_address_points,
    split_half,
)
from gis_app.models import ImportBatch, ServiceRequest
from layers.coords import local_metres
from layers.memo import forget
from layers.normalize import parse

NEAR_STREET_M = 50.0
SCORED_HALF = 1  # of address_learning.split_half; half 0 is where the geocoder's thresholds were chosen
FOLDS = 5


def _streets_near(points: list[tuple[float, float]]) -> list[int]:
    """How many differently named streets of an active network lie within NEAR_STREET_M of each (lon, lat)
    (one query): one or more is inside the street layer; two or more is a corner the layer has (an extract
    clipped across a street keeps one of the two, and no geocoder could find that corner in it)."""
    if not points:
        return []
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT u.i, (
                SELECT count(DISTINCT e.name) FROM layers_streetedge e
                  JOIN layers_layerversion v ON v.id = e.layer_version_id
                 WHERE v.active AND e.name <> ''
                   AND ST_DWithin(e.geom::geography, ST_SetSRID(ST_MakePoint(u.x, u.y), 4326)::geography, %s)
            ) FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS u(x, y, i) ORDER BY u.i
            """,
            [NEAR_STREET_M, [p[0] for p in points], [p[1] for p in points]],
        )
        return [int(n) for _, n in cur.fetchall()]


def corner_half(text: str) -> int:
    """A corner's half, by the CRC-32 of its two normalised streets in order (so "A & B" and "B & A" agree)."""
    p = parse(text)
    assert p.street is not None and p.cross is not None
    pair = " & ".join(sorted((p.street.key, p.cross.key)))
    return zlib.crc32(pair.encode()) & 1


def _score(rows: list[tuple[str, tuple[float, float]]], results: list[geo.Result]) -> dict[str, Any]:
    errors = [
        local_metres(r.lon, r.lat, ref[0], ref[1])
        for (_, ref), r in zip(rows, results, strict=True)
        if r.status == "matched"
        and r.kind in ("point", "interpolated", "intersection")
        and r.lon is not None
        and r.lat is not None
    ]
    n = len(rows) or 1
    return {
        "n": len(rows),
        "matched": len(errors) / n,
        "street_only": sum(1 for r in results if r.kind == "street") / n,
        "ambiguous": sum(1 for r in results if r.status == "ambiguous") / n,
        "median_m": statistics.median(errors) if errors else float("nan"),
        "wrong_150": sum(1 for e in errors if e > 150) / n,
    }


def _fold(key: Any) -> int:
    return (address_hash(key) >> 1) % FOLDS  # the bit above the one split_half uses


def _by_folds(houses: list[tuple[str, tuple[float, float]]], exact_only: Any) -> tuple[list[Any], list[Any]]:
    """Ours and the peer's answers for the scored houses, fold by fold: each fold is scored with address
    points learned from every other address of the history (rolled back after), never from its own."""
    ours: dict[str, geo.Result] = {}
    peer: dict[str, geo.Result] = {}
    for f in range(FOLDS):
        part = [a for a, _ in houses if _fold(address_key(a)) == f]

        def outside_fold(k: AddressKey, f: int = f) -> bool:
            return not (split_half(k) == SCORED_HALF and _fold(k) == f)

        with transaction.atomic():
            learn_address_points(keep=outside_fold)
            geo.clear_cache()
            forget()
            ours.update(zip(part, geo.geocode_many(part), strict=True))
            peer.update(zip(part, exact_only(lambda part=part: geo.geocode_many(part)), strict=True))
            transaction.set_rollback(True)
    geo.clear_cache()
    forget()
    return [ours[a] for a, _ in houses], [peer[a] for a, _ in houses]


def evaluate(city: str, exact_only: Any) -> Result:
    history = ImportBatch.objects.filter(kind="history").order_by("loaded_at").first()
    if history is None:
        raise SystemExit(f"no 311 history loaded for {city}: run `make demo CITY={city}` (or the load commands)")
    seen: dict[str, tuple[float, float]] = {}
    for r in ServiceRequest.objects.filter(import_batch=history, location__isnull=False).exclude(address=""):
        assert r.location is not None
        seen.setdefault(r.address, (r.location.x, r.location.y))
    addresses = list(seen.items())
    near = _streets_near([ref for _, ref in addresses])
    houses: list[tuple[str, tuple[float, float]]] = []
    corners: list[tuple[str, tuple[float, float]]] = []  # scored: half 1, where the layer has a corner
    clipped: list[tuple[str, tuple[float, float]]] = []  # half 1, near one street of the layer only
    for (text, ref), streets in zip(addresses, near, strict=True):
        if not streets:
            continue
        try:
            parsed = parse(text)
        except ValueError:
            continue
        if parsed.is_intersection:
            if corner_half(text) == SCORED_HALF:
                (corners if streets >= 2 else clipped).append((text, ref))
        elif (key := address_key(text)) is not None and split_half(key) == SCORED_HALF:
            houses.append((text, ref))
    ours_h, peer_h = _by_folds(houses, exact_only)
    every = corners + clipped
    ours_c, peer_c = (
        geo.geocode_many([a for a, _ in every]),
        exact_only(lambda: geo.geocode_many([a for a, _ in every])),
    )
    h, ph = _score(houses, ours_h), _score(houses, peer_h)
    c, pc = _score(corners, ours_c[: len(corners)]), _score(corners, peer_c[: len(corners)])
    e, pe = _score(every, ours_c), _score(every, peer_c)
    res = Result(f"geocode_eval --city {city}")
    peer = "exact names only"
    res.add(f"house addresses matched ({h['n']} inside the street layer)", "share", h["matched"], ph["matched"], peer)
    res.add("  … answered at the street only (kind street)", "share", h["street_only"], ph["street_only"], peer)
    res.add("house median error", "m", h["median_m"], ph["median_m"], peer, better="lower")
    res.add("house wrong > 150 m", "share", h["wrong_150"], ph["wrong_150"], peer, better="lower")
    res.add(
        f"intersections matched ({c['n']} where the layer has a corner)", "share", c["matched"], pc["matched"], peer
    )
    res.add("  … ambiguous", "share", c["ambiguous"], pc["ambiguous"], peer, better="lower")
    res.add("intersection median error", "m", c["median_m"], pc["median_m"], peer, better="lower")
    res.add("intersection wrong > 150 m", "share", c["wrong_150"], pc["wrong_150"], peer, better="lower")
    res.add(f"intersections matched, also near one street only ({e['n']})", "share", e["matched"], pe["matched"], peer)
    res.notes.append(
        f"{len(addresses)} distinct address lines in the history, {len(houses) + len(corners)} scored inside the "
        f"street layer (its networks' streets within {NEAR_STREET_M:.0f} m of the city's own point); the 311 "
        "points are the answer key"
    )
    res.notes.append(
        "reference for house numbers: address points learned from the history (one per address, the median of "
        "its requests' points), split by address (CRC-32 of number, direction and normalised street): only "
        f"half {SCORED_HALF} is scored (half {1 - SCORED_HALF} is where the geocoder's thresholds were chosen), "
        f"in {FOLDS} folds, each scored with points learned from every address outside it, so no scored "
        "address is its own reference; the city's other layers are used as loaded"
    )
    res.notes.append(
        f"intersections: split in halves by the CRC-32 of the two normalised streets; half {1 - SCORED_HALF} is "
        f"where the corner thresholds (JOG_M) were chosen, half {SCORED_HALF} is scored; scored where the "
        f"layer has a corner (two differently named streets within {NEAR_STREET_M:.0f} m of the City's point); "
        f"{len(clipped)} more lie near one street of the layer only (the extract stops short of the other)"
    )
    res.notes.append("floor: houses ≥ 0.70 matched, median ≤ 40 m, wrong ≤ 0.03; intersections ≥ 0.90")
    return res
