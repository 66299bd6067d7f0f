"""`geocode_eval.py --city CITY`: forward geocoding on any loaded city, scored against its own 311 points.

The city's database (GIS311_DB, default gis311_<city>) holds its layers, street network and history
(`make demo CITY=<city>`, or the load commands). Test rows: the distinct addresses of the located history
requests whose own point lies inside the street layer's extent (the bounding box of the loaded networks, and
within 50 m of one of their streets), split into house addresses and intersections as the parser reads
them. Reference: the street layer and whatever address layers the city loaded. Nothing from the history is a
reference (no address point is drawn from past requests), so no scored address is one: there is nothing to
split. Peer (same run): exact-name lookup only. Only point / interpolated / intersection results count as
matched; a house number answered at street level (`kind: street`) is counted apart.
"""

from __future__ import annotations

import statistics
from typing import Any

from _common import Result
from django.db import connection

import layers.geocoding as geo
from gis_app.models import ImportBatch, ServiceRequest
from layers.coords import local_metres
from layers.normalize import parse

NEAR_STREET_M = 50.0


def _inside_streets(points: list[tuple[float, float]]) -> list[bool]:
    """Whether each (lon, lat) lies within NEAR_STREET_M of a street of an active network (one query)."""
    if not points:
        return []
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT u.i, EXISTS (
                SELECT 1 FROM layers_streetedge e JOIN layers_layerversion v ON v.id = e.layer_version_id
                 WHERE v.active
                   AND ST_DWithin(e.geom::geography, ST_SetSRID(ST_MakePoint(u.x, u.y), 4326)::geography, %s)
            ) FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS u(x, y, i) ORDER BY u.i
            """,
            [NEAR_STREET_M, [p[0] for p in points], [p[1] for p in points]],
        )
        return [bool(inside) for _, inside in cur.fetchall()]


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


def evaluate(city: str, exact_only: Any) -> Result:
    history = ImportBatch.objects.filter(kind="history").order_by("loaded_at").first()
    if history is None:
        raise SystemExit(f"no 311 history loaded for {city}: run `make demo CITY={city}` (or the load commands)")
    seen: dict[str, tuple[float, float]] = {}
    for r in ServiceRequest.objects.filter(import_batch=history, location__isnull=False).exclude(address=""):
        assert r.location is not None
        seen.setdefault(r.address, (r.location.x, r.location.y))
    addresses = list(seen.items())
    inside = _inside_streets([ref for _, ref in addresses])
    houses: list[tuple[str, tuple[float, float]]] = []
    corners: list[tuple[str, tuple[float, float]]] = []
    for (text, ref), ok in zip(addresses, inside, strict=True):
        if not ok:
            continue
        try:
            parsed = parse(text)
        except ValueError:
            continue
        (corners if parsed.is_intersection else houses).append((text, ref))
    ours_h, ours_c = geo.geocode_many([a for a, _ in houses]), geo.geocode_many([a for a, _ in corners])
    peer_h = exact_only(lambda: geo.geocode_many([a for a, _ in houses]))
    peer_c = exact_only(lambda: geo.geocode_many([a for a, _ in corners]))
    h, c, ph, pc = _score(houses, ours_h), _score(corners, ours_c), _score(houses, peer_h), _score(corners, peer_c)
    res = Result(f"geocode_eval --city {city}")
    peer = "exact names only"
    res.add(f"house addresses matched ({h['n']} inside the street layer)", "share", h["matched"], ph["matched"], peer)
    res.add("  … answered at the street only (kind street)", "share", h["street_only"], ph["street_only"], peer)
    res.add("house median error", "m", h["median_m"], ph["median_m"], peer, better="lower")
    res.add("house wrong > 150 m", "share", h["wrong_150"], ph["wrong_150"], peer, better="lower")
    res.add(f"intersections matched ({c['n']} inside the street layer)", "share", c["matched"], pc["matched"], peer)
    res.add("  … ambiguous", "share", c["ambiguous"], pc["ambiguous"], peer, better="lower")
    res.add("intersection median error", "m", c["median_m"], pc["median_m"], peer, better="lower")
    res.add("intersection wrong > 150 m", "share", c["wrong_150"], pc["wrong_150"], peer, better="lower")
    res.notes.append(
        f"{len(addresses)} distinct addresses in the history, {len(houses) + len(corners)} inside the street layer "
        f"(its networks' streets within {NEAR_STREET_M:.0f} m of the city's own point); the 311 points are the answer "
        "key only; no reference comes from the history, so nothing needed splitting"
    )
    res.notes.append("floor: houses ≥ 0.70 matched, median ≤ 40 m, wrong ≤ 0.03; intersections ≥ 0.90")
    return res
