"""Ward lookups per second on the 5,000 Chicago 311 points, and agreement with the City's own column.

Ours: PostGIS `ward_at` (one query per point, through the ST_Subdivide parts; with and without the
edge distance), the whole-polygon variant (to measure what subdividing buys), and the set-based
`wards_at` (one query for all points). Peer: a shapely 2 STRtree over the same polygons, in the same
process and run, point by point and vectorised.

    python benchmarks/ward_lookup.py [--json] [--sample N]
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from _common import ROOT, Result, parser, rate, setup_django


def whole_polygon_numbers(points: list, on: dt.date) -> list:
    """The same cover test against the unsubdivided ward polygons: what ST_Subdivide parts save (benchmark only)."""
    from django.db import connection

    from layers.lookup import _VERSION_IN_FORCE_SQL
    from layers.models import LayerKind, Ward

    with connection.cursor() as cur:
        cur.execute(
            f"""
            WITH v AS ({_VERSION_IN_FORCE_SQL})
            SELECT t.i, (SELECT a.number FROM {Ward._meta.db_table} a
                         WHERE a.layer_version_id = v.id AND ST_Covers(a.geom, t.pt) ORDER BY a.number LIMIT 1)
            FROM v, (SELECT i, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt
                     FROM unnest(%(lons)s::float8[], %(lats)s::float8[]) WITH ORDINALITY AS u(lon, lat, i)) t
            ORDER BY t.i
            """,
            {"kind": LayerKind.WARDS, "day": on, "lons": [p.x for p in points], "lats": [p.y for p in points]},
        )
        return [row[1] for row in cur.fetchall()]


def main() -> None:
    args_p = parser(__doc__ or "")
    args_p.add_argument("--sample", type=int, default=0, help="use only the first N points (0 = all)")
    args = args_p.parse_args()
    setup_django()

    from django.conf import settings

    from layers.evaluation import ShapelyWardIndex, evaluate_ward_lookup, read_labelled_points
    from layers.importing import load_manifest
    from layers.lookup import numbers_at, ward_at
    from layers.models import LayerKind

    load_manifest(settings.CITY_LAYER_MANIFEST)  # no-op when already loaded
    on = dt.date(2021, 1, 1)  # the 311 sample was filed then: the 2015-2023 map is in force
    points, rows = read_labelled_points(
        ROOT / "fixtures" / "chicago" / "311" / "chicago_311_2021-01-01_02_n5000.csv",
        id_col="sr_number",
        lon_col="longitude",
        lat_col="latitude",
        ward_col="ward",
    )
    if args.sample:
        points = points[: args.sample]
    geos_pts = [p.point for p in points]
    lonlats = np.array([(p.point.x, p.point.y) for p in points])
    n = len(points)

    ward_at(geos_pts[0], on=on)  # warm the connection and caches
    single, _ = rate(lambda: [ward_at(p, on=on, with_edge_distance=False) for p in geos_pts], n)
    setb, _ = rate(lambda: numbers_at(LayerKind.WARDS, geos_pts, on), n)
    settings.LAYERS_IN_PROCESS_LOOKUP = False  # the same lookups answered by PostGIS alone
    single_sql, _ = rate(lambda: [ward_at(p, on=on, with_edge_distance=False) for p in geos_pts], n)
    setb_sql, _ = rate(lambda: numbers_at(LayerKind.WARDS, geos_pts, on), n)
    settings.LAYERS_IN_PROCESS_LOOKUP = True
    single_edge, _ = rate(lambda: [ward_at(p, on=on) for p in geos_pts], n)
    whole, _ = rate(lambda: [whole_polygon_numbers([p], on)[0] for p in geos_pts], n)
    setb_whole, _ = rate(lambda: whole_polygon_numbers(geos_pts, on), n)

    index = ShapelyWardIndex(on)
    peer_single, _ = rate(lambda: [index.lookup_one(x, y) for x, y in lonlats], n)
    peer_bulk, _ = rate(lambda: index.lookup_many(lonlats), n)

    ev = evaluate_ward_lookup(points, rows, on)

    res = Result("ward_lookup")
    peer = "shapely STRtree"
    res.add("single ward_at, lookups/s (in-process index, PostGIS for edges)", "1/s", single, peer_single, peer)
    res.add("single ward_at, lookups/s (PostGIS parts only)", "1/s", single_sql, peer_single, peer)
    res.add("single ward_at, lookups/s (parts + edge distance)", "1/s", single_edge, peer_single, peer)
    res.add("single lookup, lookups/s (whole polygons)", "1/s", whole, peer_single, peer)
    res.add("set-based wards_at, lookups/s (in-process index)", "1/s", setb, peer_bulk, peer + " (vectorised)")
    res.add("set-based wards_at, lookups/s (PostGIS parts only)", "1/s", setb_sql, peer_bulk, peer + " (vectorised)")
    res.add("set-based, lookups/s (whole polygons)", "1/s", setb_whole, peer_bulk, peer + " (vectorised)")
    res.add(
        "equal to brute-force point-in-polygon", "points", ev.equal_to_brute_force, ev.located, "all located points"
    )
    res.add("equal to the City's ward column", "points", ev.agree_with_source, ev.located, "all located points")
    res.details = {
        "points": n,
        "rows_read": rows,
        "subdivide_speedup_single": single / whole,
        "subdivide_speedup_set": setb / setb_whole,
        "brute_force_mismatches": ev.brute_force_mismatches,
        "disagreements_with_city": [
            {"sr_number": i, "ours": o, "city": c, "edge_distance_m": None if d is None else round(d, 1)}
            for i, o, c, d in ev.disagreements
        ],
    }
    res.notes.append(
        f"ST_Subdivide parts vs whole polygons: {single / whole:.1f}x single, {setb / setb_whole:.1f}x set-based"
    )
    res.notes.append("single PostGIS lookups include a database round trip each; the peer runs in-process")
    res.notes.append("disagreements with the City's column (id: ours / City, metres to the nearest ward edge):")
    res.notes.extend(f"  {i}: {o} / {c}, {'n/a' if d is None else f'{d:.1f} m'}" for i, o, c, d in ev.disagreements)
    res.print(args.json)


if __name__ == "__main__":
    main()
