"""Open311 and open data at a million requests.

    python benchmarks/open311.py [--json] [--rows 1000000] [--keep]

Copies the demo database (stop the demo server first), fills it with the synthetic generator up to --rows
requests, then measures:
- a page of 500 with extensions (`/open311/v2/requests.json?extensions=true&page_size=500&page=N`, N spread
  over the 90-day window), p50 and p95 over 20 runs, in process through Django's test client; the peer is the
  same page's rows read by the ORM as plain tuples (the same query, no serializer);
- the open-data export (CSV and GeoJSON) of every request, rows/s, each in its own process with its peak RSS,
  and the same for a tenth of the rows (constant memory: the peak should not grow with the rows); the peer is
  the same query's rows iterated without formatting.
Goals: page of 500 ≤ 300 ms, export ≥ 20 k rows/s.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time

from _common import ROOT, Result, add_copy_options, drop_database_of, filled_demo_copy, parser

EXPORT_RUN = """
import os, sys, time
import django
django.setup()
from gis_app.opendata import chunks, parse_export_filters, raw_rows, selected
f = parse_export_filters({"start": sys.argv[2], "end": sys.argv[3]})
t0 = time.perf_counter()
n = 0
if sys.argv[1] == "peer":  # the very query the export reads, its rows iterated with no formatting
    for _ in raw_rows(f):
        n += 1
else:
    with open(os.devnull, "w") as out:
        for piece in chunks(sys.argv[1], f):
            out.write(piece)
    n = selected(f).count()
seconds = time.perf_counter() - t0
# VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across exec on Linux)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(n, seconds, hwm)
"""


def export_run(kind: str, start: str, end: str, env: dict[str, str]) -> tuple[int, float, float]:
    out = subprocess.run(
        [sys.executable, "-c", EXPORT_RUN, kind, start, end], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    n, seconds, rss_kb = out.stdout.split()[-3:]
    return int(n), float(seconds), int(rss_kb) / 1024


def main() -> int:
    p = parser(__doc__ or "")
    add_copy_options(p, "open311bench")
    args = p.parse_args()
    made = filled_demo_copy("open311bench", args.rows, seed=2024, reuse=args.reuse)
    if made is None:
        return 1
    url, filled = made
    from django.db import connections
    from django.test import Client, RequestFactory
    from django.utils import timezone

    from field_api.open311.views import SHOWN, _search
    from gis_app.models import ServiceRequest

    try:
        total = ServiceRequest.objects.count()
        res = Result("open311")
        client = Client()
        window = ServiceRequest.objects.filter(requested_at__gte=timezone.now() - dt.timedelta(days=90)).count()
        pages = max(1, window // 500)
        ours, peer = [], []
        client.get("/open311/v2/requests.json?extensions=true&page_size=500&page=1")  # warm
        for i in range(20):
            page = 1 + (i * 7919) % pages
            t = time.perf_counter()
            answer = client.get(f"/open311/v2/requests.json?extensions=true&page_size=500&page={page}")
            ours.append((time.perf_counter() - t) * 1000)
            assert answer.status_code == 200 and len(json.loads(answer.content)) == 500
            t = time.perf_counter()
            found = _search(RequestFactory().get("/open311/v2/requests.json")).values_list("pk", flat=True)
            ids = list(found[(page - 1) * 500 : page * 500])
            list(ServiceRequest.objects.filter(pk__in=ids).select_related("service_type", "department", "parent")
                 .only(*SHOWN).values_list("ticket", "status", "requested_at", "location", "description"))  # fmt: skip
            peer.append((time.perf_counter() - t) * 1000)
        q = lambda xs, k: statistics.quantiles(xs, n=20)[k]  # noqa: E731
        res.add("page of 500 with extensions, p50", "ms", statistics.median(ours), statistics.median(peer),
                "same query, no serializer", better="lower")  # fmt: skip
        res.add("page of 500 with extensions, p95", "ms", q(ours, 18), q(peer, 18), "same query, no serializer",
                better="lower")  # fmt: skip
        first = ServiceRequest.objects.order_by("requested_at").values_list("requested_at", flat=True).first()
        last = ServiceRequest.objects.order_by("-requested_at").values_list("requested_at", flat=True).first()
        assert first and last
        start, end = first.date().isoformat(), last.date().isoformat()
        tenth = (last - (last - first) / 10).date().isoformat()
        env = dict(os.environ, DATABASE_URL=url)
        details: dict[str, object] = {"rows_in_table": total, "filled_seconds": round(filled), "window_rows": window}
        peer_n, peer_s, peer_rss = export_run("peer", start, end, env)
        for fmt in ("csv", "geojson"):
            n, seconds, rss = export_run(fmt, start, end, env)
            n10, _, rss10 = export_run(fmt, tenth, end, env)
            res.add(f"{fmt} export, all {n:,} rows", "rows/s", n / seconds, peer_n / peer_s,
                    "same query, no formatting")  # fmt: skip
            res.add(f"{fmt} export peak RSS, all rows vs a tenth", "MB", rss, rss10, f"a tenth ({n10:,} rows)",
                    better="lower")  # fmt: skip
            details[fmt] = {"rows": n, "seconds": round(seconds, 1), "peak_rss_mb": round(rss), "tenth_rows": n10,
                            "tenth_peak_rss_mb": round(rss10)}  # fmt: skip
        details["peer_rss_mb"] = round(peer_rss)
        res.details = details
        res.notes.append("goals: page of 500 ≤ 300 ms; export ≥ 20,000 rows/s; peak RSS flat as rows grow")
        res.print(args.json)
        return 0
    finally:
        connections.close_all()
        if not args.keep:
            drop_database_of(url)


if __name__ == "__main__":
    sys.exit(main())
