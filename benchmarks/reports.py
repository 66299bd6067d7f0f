"""Council and report pages, and the city map's vector tiles, at a million requests.

    python benchmarks/reports.py [--json] [--rows 1000000] [--keep | --reuse]

Copies the demo database (stop the demo server first), fills it with the synthetic generator up to --rows
requests, signs a council member in, then measures p50 and p95 over 20 runs, in process through Django's test
client:
- the ward map aggregates (`/council/wards.json`, the page's default: the last 90 days, every status); peer:
  a bare `count(*) GROUP BY ward_number` over the same rows;
- one ward page (`/council/wards/N/`, N cycling over the wards, its default 90 days); peer: the same ward's
  rows counted by type in one plain GROUP BY;
- the full reports page (`/reports/?by=department`, 90 days); peer: a bare `count(*) GROUP BY department`;
- vector tiles at street zoom (16) over the city, built from the database (cache cleared first) and then
  served from the cache; peer: the older GeoJSON street endpoint for the same box.
It also counts each page's queries for two different wards and two filters: the count must not change.
Goals: ward map ≤ 200 ms, ward page ≤ 500 ms, tile p95 ≤ 50 ms.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Callable

from _common import Result, add_copy_options, drop_database_of, filled_demo_copy, parser


def timed(fn: Callable[[int], object], runs: int = 20) -> list[float]:
    fn(0)  # warm
    out = []
    for i in range(runs):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[18]


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def main() -> int:
    p = parser(__doc__ or "")
    add_copy_options(p, "reportsbench")
    args = p.parse_args()
    made = filled_demo_copy("reportsbench", args.rows, seed=2025, reuse=args.reuse)
    if made is None:
        return 1
    url, filled = made
    from django.contrib.auth.models import Group, User
    from django.core.cache import cache
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from field_api.reports.models import CouncilSeat
    from gis_app.models import ServiceRequest, ServiceType
    from gis_app.roles import ensure_roles
    from layers.tiles import current_tileset

    try:
        ensure_roles()
        user, _ = User.objects.get_or_create(username="bench-council")
        user.groups.set([Group.objects.get(name="council member")])
        CouncilSeat.objects.update_or_create(user=user, defaults={"ward_number": 27})
        client = Client()
        client.force_login(user)
        total = ServiceRequest.objects.count()
        wards = sorted({w for w in ServiceRequest.objects.values_list("ward_number", flat=True)[:200_000] if w})
        res = Result("reports")

        def sql(statement: str) -> None:
            with connection.cursor() as cur:
                cur.execute(statement)
                cur.fetchall()

        since = "now() - interval '90 days'"
        ours = timed(lambda i: _ok(client.get("/council/wards.json")))
        peer = timed(lambda i: sql(f"SELECT ward_number, count(*) FROM gis_app_servicerequest "
                                   f"WHERE requested_at >= {since} GROUP BY 1"))  # fmt: skip
        _pair(res, "ward map aggregates", ours, peer, "bare count by ward")
        ours = timed(lambda i: _ok(client.get(f"/council/wards/{wards[i % len(wards)]}/")))
        peer = timed(lambda i: sql(f"SELECT service_type_id, count(*) FROM gis_app_servicerequest "
                                   f"WHERE ward_number = {wards[i % len(wards)]} AND requested_at >= {since} "
                                   "GROUP BY 1"))  # fmt: skip
        _pair(res, "one ward page", ours, peer, "bare count by type")
        ours = timed(lambda i: _ok(client.get("/reports/?by=department")))
        peer = timed(lambda i: sql(f"SELECT department_id, count(*) FROM gis_app_servicerequest "
                                   f"WHERE requested_at >= {since} GROUP BY 1"))  # fmt: skip
        _pair(res, "reports page (by department)", ours, peer, "bare count by department")

        a_type = str(ServiceType.objects.filter(sensitive=False).order_by("code").values_list("code", flat=True)[0])
        counts = {}
        for name, path in [
            ("ward map", "/council/wards.json"),
            ("ward map, one type", "/council/wards.json?status=open&type=" + a_type),
            (f"ward {wards[0]} page", f"/council/wards/{wards[0]}/"),
            (f"ward {wards[-1]} page", f"/council/wards/{wards[-1]}/"),
            ("reports by ward", "/reports/?by=ward"),
            ("reports by type", "/reports/?by=type"),
        ]:
            with CaptureQueriesContext(connection) as ctx:
                _ok(client.get(path))
            counts[name] = len(ctx.captured_queries)

        tileset = current_tileset()
        box = ServiceRequest.objects.filter(location__isnull=False).order_by("?").values_list("location", flat=True)
        points = list(box[:20])
        tiles = [(16, *tile_of(pt.x, pt.y, 16)) for pt in points if pt is not None]
        cache.clear()
        built = [0.0] * len(tiles)
        for i, (z, x, y) in enumerate(tiles):
            t = time.perf_counter()
            _ok(client.get(f"/tiles/city/{z}/{x}/{y}.pbf?v={tileset.key}"))
            built[i] = (time.perf_counter() - t) * 1000
        cached = timed(lambda i: _ok(client.get("/tiles/city/{}/{}/{}.pbf?v={}".format(*tiles[i], tileset.key))))
        peer = timed(lambda i: _ok(client.get("/layers/streets.geojson?bbox=" + _bbox(*tiles[i]))))
        _pair(res, "vector tile at zoom 16, built", built, peer, "GeoJSON streets, same box")
        res.add("vector tile at zoom 16, from the cache, p95", "ms", p95(cached), p95(peer),
                "GeoJSON streets, same box", better="lower")  # fmt: skip
        res.details = {"rows_in_table": total, "filled_seconds": round(filled), "wards": len(wards),
                       "queries_per_page": counts}  # fmt: skip
        res.notes.append("goals: ward map ≤ 200 ms, ward page ≤ 500 ms, tile p95 ≤ 50 ms at street zoom")
        res.notes.append("queries per page: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        res.print(args.json)
        return 0
    finally:
        connections.close_all()
        if not args.keep:
            drop_database_of(url)


def _ok(response: object) -> object:
    status = getattr(response, "status_code", 0)
    if status != 200:
        raise RuntimeError(f"{status}: {getattr(response, 'content', b'')[:300]!r}")
    return response


def _bbox(z: int, x: int, y: int) -> str:
    n = 2**z

    def lon(v: int) -> float:
        return v / n * 360 - 180

    def lat(v: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * v / n))))

    return f"{lon(x):.6f},{lat(y + 1):.6f},{lon(x + 1):.6f},{lat(y):.6f}"


def _pair(res: Result, name: str, ours: list[float], peer: list[float], peer_name: str) -> None:
    res.add(f"{name}, p50", "ms", statistics.median(ours), statistics.median(peer), peer_name, better="lower")
    res.add(f"{name}, p95", "ms", p95(ours), p95(peer), peer_name, better="lower")


if __name__ == "__main__":
    sys.exit(main())
