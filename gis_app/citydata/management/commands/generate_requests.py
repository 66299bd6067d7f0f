"""Generate a synthetic 311 history that follows the loaded sample (see gis_app/citydata/synthetic.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_app.citydata.synthetic import GeneratorError, generate
from gis_app.models import ImportBatch
from layers.management.commands._progress import bar_factory


class Command(BaseCommand):
    help = "Generate N days of synthetic requests ending today (idempotent for the same parameters and day)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=84)
        parser.add_argument("--per-day", type=int, default=800)
        parser.add_argument("--seed", type=int, default=311)
        parser.add_argument("--assumptions", type=Path, default=None)
        parser.add_argument(
            "--once",
            action="store_true",
            help="Do nothing if any synthetic history exists (so `make demo` on a later day does not "
            "add a second 12 weeks).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        existing = ImportBatch.objects.filter(kind="synthetic").order_by("loaded_at").first()
        if opts["once"] and existing is not None:
            self.stdout.write(
                f"synthetic history already loaded on {existing.loaded_at:%Y-%m-%d} "
                f"(batch {existing.pk}); nothing generated"
            )
            return
        try:
            report = generate(
                days=opts["days"],
                per_day=opts["per_day"],
                seed=opts["seed"],
                assumptions=opts["assumptions"] or Path(settings.CITY_ASSUMPTIONS),
                progress=bar_factory()("generating days"),
            )
        except GeneratorError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("\n".join(report.lines()))
