"""Candidate lookup speed with a million requests in the table.

    python benchmarks/dedup_lookup_1m.py [--json] [--rows 1000000]

Copies the demo database (CREATE DATABASE … TEMPLATE: stop the demo server first), fills it with the
synthetic generator up to --rows requests, and times gis_app.dedup.candidates on 1,000 random located
requests (p50, p95), checking that the plan uses the GiST index on location::geography. Goal: p95 ≤ 10 ms.
"""

from __future__ import annotations

import math
import os
import sys
import time

from _common import ROOT, Result, copy_demo_database, drop_database_of, parser


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    url = copy_demo_database("dedupbench")
    if url is None:
        return 1
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis_app.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from gis_app.citydata.dedup_learning import lookup_speed
    from gis_app.models import ServiceRequest

    try:
        have = ServiceRequest.objects.count()
        per_day = 800
        days = max(0, math.ceil((args.rows - have) / (per_day * 1.08)))  # weekday weights average ~1.0, plus dups
        t0 = time.perf_counter()
        if days:
            call_command(
                "generate_requests",
                "--days",
                str(days),
                "--per-day",
                str(per_day),
                "--seed",
                "1001",
                "--assumptions",
                str(settings.CITY_ASSUMPTIONS),
            )
        generated = time.perf_counter() - t0
        with connections["default"].cursor() as cur:
            cur.execute("ANALYZE gis_app_servicerequest")
        p50, p95, info = lookup_speed()
        result = Result("dedup_lookup_1m")
        result.add(
            f"candidate lookup p50 ({info['rows_in_table']:,} rows)", "ms", p50, 10.0, "goal (p95)", better="lower"
        )
        result.add(f"candidate lookup p95 ({info['rows_in_table']:,} rows)", "ms", p95, 10.0, "goal", better="lower")
        result.notes.append(
            f"filled with the generator in {generated:.0f} s; geography GiST index in the plan: "
            f"{info['uses_geography_index']}"
        )
        result.details = info
        result.print(args.json)
        return 0
    finally:
        connections.close_all()
        drop_database_of(url)


if __name__ == "__main__":
    sys.exit(main())
