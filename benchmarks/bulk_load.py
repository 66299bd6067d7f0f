"""Bulk loading: rows/s for the 311 loader and the synthetic generator, at 100 k and 1 M rows.

    python benchmarks/bulk_load.py [--json] [--sizes 100000,1000000] [--keep-db]

Runs in a throwaway database (gis311_bench: created, migrated and dropped here) so the demo data is
untouched. The loader reads a CSV made by repeating the real Chicago sample with new ids and shifted
dates (same mapping file); the generator learns from the loaded sample. Peer: PostgreSQL's own COPY of
the same CSV into an unindexed staging table, the ceiling for any loader.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, Result, parser

DB = "gis311_bench"


def sh(*args: str) -> None:
    env = {**os.environ, "PGOPTIONS": "--client-min-messages=warning"}
    subprocess.run(args, check=True, capture_output=True, env=env)


def make_csv(source: Path, rows: int, out: Path) -> None:
    with source.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        base = list(reader)
        fields = reader.fieldnames or []
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for i in range(rows):
            r = dict(base[i % len(base)])
            rep = i // len(base)
            r["sr_number"] = f"{r['sr_number']}-{rep}"
            if r.get("parent_sr_number"):
                r["parent_sr_number"] = f"{r['parent_sr_number']}-{rep}"
            for col in ("created_date", "closed_date"):
                if r.get(col):
                    t = dt.datetime.fromisoformat(r[col]) + dt.timedelta(days=2 * rep)
                    r[col] = t.strftime("%Y-%m-%dT%H:%M:%S.000")
            w.writerow(r)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--keep-db", action="store_true")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    sh("dropdb", "--if-exists", DB)
    sh("createdb", DB)
    sh("psql", "-q", "-d", DB, "-c", "CREATE EXTENSION IF NOT EXISTS postgis")
    os.environ["GIS311_DB"] = DB
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis_app.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from gis_app.citydata.loading import load_311
    from gis_app.citydata.synthetic import generate
    from gis_app.models import ImportBatch, ServiceRequest
    from layers.importing import load_manifest
    from routing.streets import load_streets_manifest

    res = Result("bulk_load")
    try:
        call_command("migrate", verbosity=0)
        load_manifest(settings.CITY_LAYER_MANIFEST)
        load_streets_manifest(settings.CITY_STREETS_MANIFEST)
        mapping_src = (ROOT / "fixtures" / "chicago" / "311_mapping.toml").read_text()
        sample = ROOT / "fixtures" / "chicago" / "311" / "chicago_311_2021-01-01_02_n5000.csv"
        with tempfile.TemporaryDirectory() as tmp:
            for n in sizes:
                csv_path = Path(tmp) / f"export_{n}.csv"
                make_csv(sample, n, csv_path)
                mapping = Path(tmp) / f"mapping_{n}.toml"
                mapping.write_text(
                    mapping_src.replace('file = "311/chicago_311_2021-01-01_02_n5000.csv"', f'file = "{csv_path.name}"')
                )
                t0 = time.perf_counter()
                report = load_311(mapping)
                ours = report.loaded / (time.perf_counter() - t0)
                with connection.cursor() as cur:
                    cur.execute("DROP TABLE IF EXISTS bench_staging")
                    header = csv_path.open().readline().strip().split(",")
                    columns = ", ".join(f'"{c}" text' for c in header)
                    cur.execute(f"CREATE UNLOGGED TABLE bench_staging ({columns})")
                    t0 = time.perf_counter()
                    with (
                        cur.cursor.copy("COPY bench_staging FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
                        csv_path.open("rb") as fh,
                    ):
                        while chunk := fh.read(1 << 20):
                            copy.write(chunk)
                    peer = n / (time.perf_counter() - t0)
                    cur.execute("DROP TABLE bench_staging")
                res.add(f"311 loader, {n:,} rows", "rows/s", ours, peer, "raw COPY into a staging table", "higher")
                t0 = time.perf_counter()
                gen = generate(
                    days=max(1, n // 1000),
                    per_day=1000,
                    seed=n,
                    assumptions=settings.CITY_ASSUMPTIONS,
                    history=ImportBatch.objects.filter(kind="history").order_by("loaded_at").first(),
                )
                secs = time.perf_counter() - t0
                res.add(
                    f"generator, {gen.rows:,} rows",
                    "rows/s",
                    gen.rows / secs,
                    peer,
                    "raw COPY into a staging table",
                    "higher",
                )
                res.notes.append(f"{n:,}: loader {report.loaded:,} rows; generator {gen.rows:,} rows in {secs:.0f} s")
        res.details = {"requests_in_db": ServiceRequest.objects.count()}
    finally:
        connection.close()
        if not args.keep_db:
            sh("dropdb", "--if-exists", DB)
    res.print(args.json)


if __name__ == "__main__":
    main()
