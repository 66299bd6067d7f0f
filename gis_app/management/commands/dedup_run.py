"""Re-run dedup over a date range (e.g. after an import): each request against what existed before it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gis_app.dedup import run_range
from layers.management.commands._progress import bar_factory


class Command(BaseCommand):
    help = "Link duplicates among requests filed in a date range (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="YYYY-MM-DD (city time), inclusive")
        parser.add_argument("--until", default=None, help="YYYY-MM-DD, exclusive (default: now)")

    def handle(self, *args: Any, **opts: Any) -> None:
        tz = timezone.get_current_timezone()
        try:
            start = dt.datetime.combine(dt.date.fromisoformat(opts["since"]), dt.time(0), tzinfo=tz)
            end = (
                dt.datetime.combine(dt.date.fromisoformat(opts["until"]), dt.time(0), tzinfo=tz)
                if opts["until"]
                else timezone.now()
            )
        except ValueError:
            raise CommandError("--since and --until must be YYYY-MM-DD") from None
        if end <= start:
            raise CommandError(f"--until ({end:%Y-%m-%d}) must be after --since ({start:%Y-%m-%d})")
        report = run_range(start, end, progress=bar_factory()("dedup"))
        self.stdout.write("\n".join(report.lines()))
