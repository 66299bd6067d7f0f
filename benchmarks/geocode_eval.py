"""Forward geocoding measured against the City's own coordinates (the 311 records are the answer key only).

    python benchmarks/geocode_eval.py [--json] [--city CITY]   (--city: see benchmarks/geocode_city.py)

Reference: the street layer (derived from the 24k named intersections) and the address grid
(fixtures/chicago/grid.toml). Test rows: the distinct house addresses of the located 311 history
requests with the City's latitude/longitude, as written and in a perturbed copy (lower case, ", Chicago,
IL 606xx" appended, a direction or type spelled out or dropped, one typo in the street name: seeded); and
500 intersections of the layer written "A & B" / "A and B" without directions or types. Only
interpolated / intersection results count as matched. Peer (same run): exact-name lookup only (no
type-less or fuzzy street matching), what the normaliser and fuzzy matching buy.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from _common import ROOT, Result, parser, setup_django

# --city CITY: another loaded city, scored by benchmarks/geocode_city.py in its own database.
CITY = sys.argv[sys.argv.index("--city") + 1] if "--city" in sys.argv[:-1] else ""
if CITY:
    os.environ["CITY"] = CITY
    os.environ.setdefault("GIS311_DB", f"gis311_{CITY}")
setup_django()

from django.conf import settings  # noqa: E402

import layers.geocoding as geo  # noqa: E402
import layers.geocoding.forward as geo_forward  # noqa: E402
from gis_app.models import ImportBatch, ServiceRequest  # noqa: E402
from layers.coords import local_metres  # noqa: E402
from layers.geocoding.forward import _between_points, _grid_places  # noqa: E402
from layers.lookup import areas_with_edges  # noqa: E402
from layers.models import LayerKind  # noqa: E402
from layers.normalize import DIRECTIONS  # noqa: E402

SPELL = {
    "N": "North",
    "S": "South",
    "E": "East",
    "W": "West",
    "AVE": "Avenue",
    "ST": "Street",
    "RD": "Road",
    "BLVD": "Boulevard",
    "DR": "Drive",
    "PL": "Place",
    "PKWY": "Parkway",
}


ON_LINE_M = 1.5  # the City's own point this close to a ward edge lies on the line (its points sit 0.4-1 m off)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return local_metres(a[0], a[1], b[0], b[1])


def perturb(text: str, rng: random.Random, zipcode: str = "") -> str:
    words = text.split()
    out = []
    for i, w in enumerate(words):
        up = w.upper()
        if up in SPELL and rng.random() < 0.5:
            out.append(SPELL[up] if rng.random() < 0.7 else "")  # spelled out, or dropped
            continue
        if (
            i >= 2
            and up.isalpha()
            and len(up) > 4
            and not any(ch.isdigit() for ch in up)
            and rng.random() < 0.5
            and up not in SPELL
            and up not in DIRECTIONS
        ):
            k = rng.randrange(1, len(w) - 1)
            w = w[:k] + w[k + 1 :]  # one typo: a dropped letter
        out.append(w)
    return " ".join(x for x in out if x).lower() + f", Chicago, IL {zipcode or '606'}"


def score_rows(
    rows: Sequence[tuple[str, tuple[float, float], int | None]], results: list[geo.Result], on: dt.date | None = None
) -> dict[str, Any]:
    matched = [
        (r, ref, ward)
        for (_, ref, ward), r in zip(rows, results, strict=True)
        if r.status == "matched" and r.kind in ("point", "interpolated", "intersection")
    ]
    if on is not None and matched:  # the City's ward column is from the map in force then, not today's
        for (r, _, _), w in zip(matched, geo.assign_wards([r for r, _, _ in matched], on=on), strict=True):
            r.ward = w
    errors = [metres((r.lon, r.lat), ref) for r, ref, _ in matched if r.lon is not None and r.lat is not None]
    n = len(rows)
    # Ward is scored only where the key has one: a row the City left without a ward (a point on the city
    # limit, say) cannot be right or wrong.
    scored = [(r, ward) for r, _, ward in matched if ward is not None]
    ward_ok = sum(1 for r, ward in scored if r.ward == int(ward))
    # The answer key disagrees with itself on some rows: the City's own point lies in another ward than its
    # ward column (at ward edges). Ward-correct counted on the rows where it agrees shows our share alone.
    hits = areas_with_edges(LayerKind.WARDS, [ref for _, ref, _ in matched], on=on) if matched else []
    own = [h.number for h in hits]
    consistent = [
        (r, ward) for (r, _, ward), w in zip(matched, own, strict=True) if ward is not None and w == int(ward)
    ]
    # Where the City's own point lies on a ward line (within ON_LINE_M of an edge: a boundary street's
    # centreline), its column is a coin toss even for that point; off the lines the figure is ours alone.
    on_line: list[tuple[geo.Result, Any, Any]] = []
    off_line: list[tuple[geo.Result, Any, Any]] = []
    for (r, _, ward), h in zip(matched, hits, strict=True):
        if ward is not None:
            on_the_line = h.edge_distance_m is not None and h.edge_distance_m < ON_LINE_M
            (on_line if on_the_line else off_line).append((r, ward, h))
    q = statistics.quantiles(errors, n=20) if len(errors) >= 20 else [float("nan")] * 19
    return {
        "n": n,
        "matched": len(matched) / n if n else 0.0,
        "ambiguous": sum(r.status == "ambiguous" for r in results),
        # Asked back, not answered wrong: ambiguous with the right place among the candidates ("Hoyne and 79th"
        # is 79th St's corner or 79th Pl's, 100 m apart; the caller picks).
        "offered": sum(
            1
            for (_, ref, _), r in zip(rows, results, strict=True)
            if r.status == "ambiguous" and any(metres((c["lon"], c["lat"]), ref) <= 30 for c in r.candidates)
        )
        / n
        if n
        else 0.0,
        "wrong_150": sum(e > 150 for e in errors) / n if n else 0.0,
        "wrong_250": sum(e > 250 for e in errors) / n if n else 0.0,
        "median_m": statistics.median(errors) if errors else float("nan"),
        "p90_m": q[17],
        "p95_m": q[18],
        "ward_correct": ward_ok / len(scored) if scored else 0.0,
        "key_self_consistent": len(consistent) / len(scored) if scored else 0.0,
        "ward_correct_where_key_consistent": (sum(1 for r, ward in consistent if r.ward == int(ward)) / len(consistent))
        if consistent
        else 0.0,
        "on_ward_line": len(on_line),
        "off_ward_line": len(off_line),
        "on_line_ward_correct": sum(1 for r, ward, _ in on_line if r.ward == int(ward)),
        "on_line_key_point_correct": sum(1 for _, ward, h in on_line if h.number == int(ward)),
        "ward_correct_off_lines": (sum(1 for r, ward, _ in off_line if r.ward == int(ward)) / len(off_line))
        if off_line
        else 0.0,
    }


def exact_only(func: Any) -> Any:
    """The peer: the same pipeline with street names matched exactly (no type-less or fuzzy fallback)."""

    def keys(idx: geo.Index, street: Any) -> tuple[list[str], float]:
        return ([street.key], 1.0) if street.type and street.key in idx.streets else ([], 0.0)

    # Forward geocoding looks street names up through this module attribute: swap it for the run.
    original = geo_forward._street_keys
    geo_forward._street_keys = keys
    try:
        return func()
    finally:
        geo_forward._street_keys = original


LeftOut = tuple[str, float, float, bool]  # street key, lon, lat, placeable off the centreline


def leave_one_out() -> tuple[list[float], list[float], list[float], list[float], list[LeftOut]]:
    """Each address point of the layer (the Loop's OSM points) left out in turn and geocoded from the rest:
    between its neighbours on the same side and block, and by the grid model; metres from where it is. The
    reference checks itself: no 311 row is involved. The third list is the whole geocoder's answer for every
    left-out point (inf where it placed none: street level, unmatched). The fourth is how far the nearest
    other point on the same street and side lies (inf where there is none). The fifth says, for each, whether
    it could be placed off its street's centreline: between neighbours, or at another point of its number."""
    from layers.normalize import parse

    idx = geo.index()
    between: list[float] = []
    grid: list[float] = []
    whole: list[float] = []
    nearest: list[float] = []
    left_out: list[LeftOut] = []
    for key, row in idx.along.items():
        if key not in idx.streets:  # a point on a street the street layer does not name
            continue
        for i, (n, d, x, y) in enumerate(row):
            parsed = parse(f"{n} {d} {key}")
            if not d or parsed.street is None:
                continue
            saved, exact = idx.along[key], idx.points.get((key, n), [])
            idx.along[key] = saved[:i] + saved[i + 1 :]
            idx.points[(key, n)] = [p for p in exact if (p[0], p[1], p[2]) != (d, x, y)]
            try:
                found = _between_points(idx, parsed, [key], 1.0, key)
                places = _grid_places(idx, parsed, [key])
                answer = geo.geocode(f"{n} {d} {key}")
            finally:
                idx.along[key] = saved
                idx.points[(key, n)] = exact
            left_out.append((key, x, y, found is not None or any((p[1], p[2]) != (x, y) for p in exact)))
            side = [(u, v) for j, (m, e, u, v) in enumerate(row) if j != i and e == d and m % 2 == n % 2]
            nearest.append(min((metres((u, v), (x, y)) for u, v in side), default=math.inf))
            placed = answer.status == "matched" and answer.kind in ("point", "interpolated")
            whole.append(metres((answer.lon, answer.lat), (x, y)) if placed else math.inf)  # type: ignore[arg-type]
            if found is not None and found.lon is not None and found.lat is not None and places:
                between.append(metres((found.lon, found.lat), (x, y)))
                grid.append(min(metres((p[0], p[1]), (x, y)) for p in places))
    return between, grid, whole, nearest, left_out


WITHIN_M = 25.0  # the bar for a left-out address point


def setback_bound(left_out: list[LeftOut]) -> tuple[float, float]:
    """The most of the left-out points that any placement could bring within WITHIN_M when it puts a number it
    cannot place between neighbours (or at another point of that number) on a line at one setback from its
    street's centreline, however well it chose the spot along the street: those counted as placeable, and
    street names without a centreline near, count as reached. Returns (share, the best setback in metres)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT (SELECT min(ST_Distance(e.geom::geography, p.g)) FROM layers_streetedge e
                      JOIN layers_layerversion v ON v.id = e.layer_version_id
                     WHERE v.active AND e.name = u.k AND ST_DWithin(e.geom::geography, p.g, 400))
              FROM unnest(%s::text[], %s::float8[], %s::float8[]) WITH ORDINALITY AS u(k, x, y, i)
             CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(u.x, u.y), 4326)::geography AS g) p
             ORDER BY u.i
            """,
            [[k for k, *_ in left_out], [x for _, x, _, _ in left_out], [y for _, _, y, _ in left_out]],
        )
        depth = [r[0] for r in cur.fetchall()]
    free = sum(1 for (*_, placeable), m in zip(left_out, depth, strict=True) if placeable or m is None)
    bound = [m for (*_, placeable), m in zip(left_out, depth, strict=True) if not placeable and m is not None]
    best = max(range(61), key=lambda s: sum(1 for m in bound if abs(m - s) <= WITHIN_M))
    reached = free + sum(1 for m in bound if abs(m - best) <= WITHIN_M)
    return reached / len(left_out) if left_out else 0.0, float(best)


def main() -> int:
    ap = parser(__doc__ or "")
    ap.add_argument("--city", default="", help="another loaded city (its database: GIS311_DB or gis311_<city>)")
    args = ap.parse_args()
    if args.city:
        from geocode_city import evaluate

        evaluate(args.city, exact_only).print(args.json)
        return 0
    history = ImportBatch.objects.filter(kind="history").order_by("loaded_at").first()
    if history is None:
        print("no 311 history loaded: run `make demo-data`")
        return 1
    seen: dict[str, tuple[tuple[float, float], int | None]] = {}
    for r in ServiceRequest.objects.filter(
        import_batch=history, location__isnull=False, source_data__dispatchable=True
    ).exclude(address=""):
        assert r.location is not None
        if r.address and r.address[0].isdigit() and r.address not in seen:
            seen[r.address] = ((r.location.x, r.location.y), (r.source_data or {}).get("ward"))
    rows = [(a, ref, ward) for a, (ref, ward) in sorted(seen.items())]
    rng = random.Random(311)
    # The caller's ZIP as the export has it (input, like the address: the coordinates stay the answer key).
    zips: dict[str, str] = {}
    for path in sorted((ROOT / "fixtures" / "chicago" / "311").glob("*.csv")):
        with open(path, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                zips.setdefault(row.get("street_address", ""), (row.get("zip_code") or "").split(".")[0])
    perturbed = [(perturb(a, rng, zips.get(a, "")), ref, ward) for a, ref, ward in rows]
    with open(ROOT / "fixtures" / "chicago" / "geocoding" / "chicago_intersections.csv", encoding="utf-8") as fh:
        corners = list(csv.DictReader(fh))
    sample = rng.sample(corners, 500)

    def bare(street: str) -> str:
        words = street.split()
        if words and words[0] in DIRECTIONS:
            words = words[1:]
        if len(words) > 1 and words[-1] in SPELL:
            words = words[:-1]
        return " ".join(words).title()

    inter = [
        (
            f"{bare(c['street_1'])} {'&' if i % 2 else 'and'} {bare(c['street_2'])}",
            (float(c["longitude"]), float(c["latitude"])),
            None,
        )
        for i, c in enumerate(sample)
    ]
    geo.index()  # build once, outside the timings
    t0 = time.perf_counter()
    as_written = geo.geocode_many([a for a, _, _ in rows])
    batch_s = time.perf_counter() - t0
    per_s = len(rows) / batch_s
    pert = geo.geocode_many([a for a, _, _ in perturbed])
    corner = geo.geocode_many([a for a, _, _ in inter])
    single = []
    for a, _, _ in rows[:300]:
        t = time.perf_counter()
        geo.geocode(a)
        single.append((time.perf_counter() - t) * 1000)
    t0 = time.perf_counter()
    reversed_ = geo.reverse_many([ref for _, ref, _ in rows])
    reverse_s = len(reversed_) / (time.perf_counter() - t0)
    reverse_single = []
    for _, ref, _ in rows[:300]:
        t = time.perf_counter()
        geo.reverse(*ref)
        reverse_single.append((time.perf_counter() - t) * 1000)
    peer_written = exact_only(lambda: geo.geocode_many([a for a, _, _ in rows]))
    peer_pert = exact_only(lambda: geo.geocode_many([a for a, _, _ in perturbed]))
    filed = min(ServiceRequest.objects.filter(import_batch=history).values_list("requested_at", flat=True)).date()
    # The Loop, where OSM address points exist: the rows whose City point lies inside the address layer's extent.
    from django.contrib.gis.db.models import Extent

    from layers.models import AddressPoint

    box = AddressPoint.objects.aggregate(e=Extent("geom"))["e"]
    in_box = [
        i for i, (_, ref, _) in enumerate(rows) if box and box[0] <= ref[0] <= box[2] and box[1] <= ref[1] <= box[3]
    ]
    loop = score_rows([rows[i] for i in in_box], [as_written[i] for i in in_box], filed) if in_box else None
    w, p, c = score_rows(rows, as_written, filed), score_rows(perturbed, pert, filed), score_rows(inter, corner)
    pw, pp = score_rows(rows, peer_written), score_rows(perturbed, peer_pert)
    result = Result("geocode_eval")
    result.add(f"matched, as written ({w['n']} addresses)", "share", w["matched"], pw["matched"], "exact names only")
    result.add("matched, perturbed", "share", p["matched"], pp["matched"], "exact names only")
    result.add(
        "wrong > 150 m (as written)", "share", w["wrong_150"], pw["wrong_150"], "exact names only", better="lower"
    )
    result.add("wrong > 250 m (as written)", "share", w["wrong_250"], 0.03, "floor", better="lower")
    result.add("median error (as written)", "m", w["median_m"], 60.0, "floor", better="lower")
    result.add("p90 error (as written)", "m", w["p90_m"], 200.0, "floor", better="lower")
    result.add("p95 error (as written)", "m", w["p95_m"], None, "")
    result.add("ward-correct of matched (as written)", "share", w["ward_correct"], 0.98, "floor")
    result.add("  the City's own points vs its ward column", "share", w["key_self_consistent"], None, "(the ceiling)")
    result.add("  ward-correct where those agree", "share", w["ward_correct_where_key_consistent"], None, "")
    result.add(
        f"  ward-correct off the ward lines ({w['off_ward_line']} rows)", "share", w["ward_correct_off_lines"], None, ""
    )
    result.add(
        f"  on a ward line ({w['on_ward_line']} rows): ours right",
        "count",
        w["on_line_ward_correct"],
        w["on_line_key_point_correct"],
        "the City's own point",
    )
    result.add("median error (perturbed)", "m", p["median_m"], pp["median_m"], "exact names only", better="lower")
    result.add(f"intersections matched ({c['n']}, no directions or types)", "share", c["matched"], 0.98, "floor")
    result.add("  … ambiguous, the true corner among the candidates", "share", c["offered"], None, "")
    result.add("  … matched or the true corner offered", "share", c["matched"] + c["offered"], 0.98, "floor")
    result.add("intersection median error", "m", c["median_m"], None, "")
    if loop is not None:
        result.add(f"Loop ({loop['n']} addresses): matched", "share", loop["matched"], None, "")
        result.add("Loop: median error", "m", loop["median_m"], None, "")
    loo_between, loo_grid, loo_whole, loo_nearest, loo_points = leave_one_out()
    if loo_whole:
        result.add(
            f"address points left out: placed within {WITHIN_M:.0f} m ({len(loo_whole)}, the whole geocoder)",
            "share",
            sum(1 for m in loo_whole if m <= WITHIN_M) / len(loo_whole),
            0.95,
            "floor",
        )
        result.add(
            f"  … the nearest other point on its street and side within {WITHIN_M:.0f} m",
            "share",
            sum(1 for m in loo_nearest if m <= WITHIN_M) / len(loo_nearest),
            None,
            "",
        )
        share, setback = setback_bound(loo_points)
        result.add(
            f"  … at most, placing the rest at one setback from the centreline (best: {setback:.0f} m)",
            "share",
            share,
            0.95,
            "floor",
        )
    if loo_between:
        result.add(
            f"address points left out, placed between their neighbours ({len(loo_between)})",
            "m",
            statistics.median(loo_between),
            statistics.median(loo_grid),
            "the grid model",
            better="lower",
        )
        result.add(
            "  … p90",
            "m",
            statistics.quantiles(loo_between, n=10)[8],
            statistics.quantiles(loo_grid, n=10)[8],
            "the grid model",
            better="lower",
        )
    kinds: dict[str, int] = {}
    for res in as_written:
        kinds[res.kind] = kinds.get(res.kind, 0) + 1
    result.notes.append(f"result kinds as written: {kinds}")
    result.add("batch forward geocodes/s", "1/s", per_s, 200.0, "floor")
    result.add("single geocode p50", "ms", statistics.median(single), None, "", better="lower")
    result.add("single geocode p95", "ms", statistics.quantiles(single, n=20)[18], 20.0, "goal", better="lower")
    result.add("batch reverse geocodes/s (at the City's points)", "1/s", reverse_s, 2000.0, "goal")
    same_street = near_number = 0
    for (address, _, _), found in zip(rows, reversed_, strict=True):
        want, got = address.split(" ", 2), str(found["address"]).split(" ", 2)
        if len(got) == 3 and got[1:] == want[1:]:
            same_street += 1
            ours, theirs = re.match(r"\d+", got[0]), re.match(r"\d+", want[0])
            near_number += bool(ours and theirs and abs(int(ours.group()) - int(theirs.group())) <= 20)
    result.add("reverse at the City's points: its street", "share", same_street / len(rows), None, "")
    result.add("  … and within 20 of its number", "share", near_number / len(rows), None, "")
    result.add("single reverse p95", "ms", statistics.quantiles(reverse_single, n=20)[18], None, "", better="lower")
    kinds_back = ("point", "interpolated", "intersection", "none")
    result.notes.append(
        "reverse at the City's points: "
        + ", ".join(f"{k} {sum(1 for r in reversed_ if r['kind'] == k)}" for k in kinds_back)
    )
    result.notes.append(f"ambiguous: {w['ambiguous']} as written, {p['ambiguous']} perturbed, {c['ambiguous']} corners")
    result.notes.append(
        "goal: matched ≥ 0.97 / 0.95; wrong > 150 m ≤ 0.02; median ≤ 30 m, p90 ≤ 100 m; "
        "≥ 500/s batch; single p95 ≤ 20 ms"
    )
    result.notes.append(
        f"reference: street layer v{geo.index().version} + grid {settings.CITY_GRID.name} "
        f"(+ {len(geo.index().derived)} grid lines read off the street layer); the 311 "
        "rows are the answer key only"
    )
    result.details = {
        "as_written": w,
        "perturbed": p,
        "intersections": c,
        "peer_as_written": pw,
        "peer_perturbed": pp,
        "examples_unmatched": [r.as_dict() for r in as_written if r.status != "matched"][:15],
    }
    result.print(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
