"""Candidate lookup speed with a million requests in the table.

    python benchmarks/dedup_lookup_1m.py [--json] [--rows 1000000]

Copies the demo database (CREATE DATABASE … TEMPLATE: stop the demo server first), fills it with the
synthetic generator up to --rows requests, and times gis_app.dedup.candidates on 1,000 random located
requests (p50, p95), checking that the plan uses the GiST index on location::geography. Goal: p95 ≤ 10 ms.
"""

from __future__ import annotations

import sys

from _common import Result, drop_database_of, filled_demo_copy, parser


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    made = filled_demo_copy("dedupbench", args.rows, seed=1001)
    if made is None:
        return 1
    url, generated = made
    from django.db import connections

    from gis_app.citydata.dedup_learning import lookup_speed

    try:
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
