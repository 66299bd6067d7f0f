"""The benchmark convention every script follows.

One script per figure. Each prints a readable table (figure, ours, the peer's from the same run, the
ratio) and, with --json, one JSON object as its last line:
    {"benchmark": NAME, "figures": [{"name", "unit", "ours", "peer", "peer_name", "ratio", "better"}], ...}
`ratio` is ours / peer; `better` says whether higher or lower is better for that figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def versus(ours: float, peer: float, peer_name: str) -> str:
    """'16 % above habit' / '25 % below habit' / 'the same as habit': the sign read off the figures, so a note
    can never call a larger figure smaller."""
    if not peer:
        return f"no {peer_name} figure to compare"
    change = round(100 * (ours - peer) / peer)
    if change == 0:
        return f"the same as {peer_name}"
    return f"{abs(change)} % {'above' if change > 0 else 'below'} {peer_name}"


def setup_django() -> None:
    """Make the project importable and configured (benchmarks run from any folder)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis_app.settings")
    import django

    django.setup()


def setup_django_on(url: str) -> None:
    """Django in this process on the database at `url` (a benchmark's throwaway copy)."""
    os.environ["DATABASE_URL"] = url
    setup_django()


def add_copy_options(p: argparse.ArgumentParser, suffix: str) -> None:
    """The options of a benchmark on a copy of the demo database filled to --rows."""
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--keep", action="store_true", help=f"keep the filled copy ({SOURCE_DB}_{suffix})")
    p.add_argument("--reuse", action="store_true", help="measure on the copy a --keep run left")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    return p


@dataclass
class Figure:
    name: str
    unit: str
    ours: float | None
    peer: float | None
    peer_name: str
    better: str = "higher"  # or "lower"

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.peer in (None, 0):
            return None
        return self.ours / self.peer  # type: ignore[operator]


@dataclass
class Result:
    benchmark: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Keys an issue asks for at the top of the JSON line (e.g. dedup's {"city": …, "synthetic": …}).
    top: dict[str, Any] = field(default_factory=dict)

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        fig = Figure(*args, **kwargs)
        self.figures.append(fig)
        return fig

    def print(self, as_json: bool) -> None:
        def fmt(v: float | None) -> str:
            if v is None:
                return "-"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.3g}"

        rows = [("figure", "unit", "ours", "peer", "peer is", "ours/peer", "better")]
        for f in self.figures:
            rows.append(
                (
                    f.name,
                    f.unit,
                    fmt(f.ours),
                    fmt(f.peer),
                    f.peer_name,
                    "-" if f.ratio is None else f"{f.ratio:.2f}",
                    f.better,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        print(f"\n== {self.benchmark} ==")
        for i, r in enumerate(rows):
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
            if i == 0:
                print("  ".join("-" * w for w in widths))
        for note in self.notes:
            print(f"note: {note}")
        if as_json:
            payload = {
                "benchmark": self.benchmark,
                "figures": [{**asdict(f), "ratio": f.ratio} for f in self.figures],
                "details": self.details,
                "notes": self.notes,
                **self.top,
            }
            print(json.dumps(payload, default=str))


def rate(fn: Callable[[], object], n: int) -> tuple[float, float]:
    """Run fn (which does n operations) once; return (operations per second, seconds)."""
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    return n / seconds, seconds


SOURCE_DB = os.environ.get("PGDATABASE", "gis311")


def psql(sql: str) -> None:
    import subprocess

    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True
    )


def copy_demo_database(suffix: str, reuse: bool = False) -> str | None:
    """A throwaway copy of the demo database (CREATE DATABASE … TEMPLATE); its URL, or None (with the reason
    printed) when the demo server holds connections to it. `reuse` keeps a copy a run left (--keep)."""
    import subprocess

    name = f"{SOURCE_DB}_{suffix}"
    exists = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if reuse and exists:
        return f"postgres://postgres@127.0.0.1:5432/{name}"
    psql(f"DROP DATABASE IF EXISTS {name}")
    try:
        psql(f"CREATE DATABASE {name} TEMPLATE {SOURCE_DB}")
    except subprocess.CalledProcessError:
        print(f"could not copy {SOURCE_DB}: stop the demo server (it holds connections) and run `make demo-data`")
        return None
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def drop_database_of(url: str) -> None:
    psql(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]}")


def filled_demo_copy(suffix: str, rows: int, seed: int, reuse: bool = False) -> tuple[str, float] | None:
    """A throwaway copy of the demo database filled by the synthetic generator up to about `rows` requests,
    with Django set up on it; (its URL, seconds spent filling), or None when the copy cannot be made."""
    url = copy_demo_database(suffix, reuse)
    if url is None:
        return None
    setup_django_on(url)  # Django and the models only once DATABASE_URL names the copy
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from gis_app.models import ServiceRequest

    have = ServiceRequest.objects.count()
    days = max(0, math.ceil((rows - have) / (800 * 1.08)))  # weekday weights average ~1.0, plus duplicates
    t0 = time.perf_counter()
    if days:
        call_command("generate_requests", "--days", str(days), "--per-day", "800", "--seed", str(seed),
                     "--assumptions", str(settings.CITY_ASSUMPTIONS))  # fmt: skip
    with connections["default"].cursor() as cur:
        cur.execute("ANALYZE")
    return url, time.perf_counter() - t0
