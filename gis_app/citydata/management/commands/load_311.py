"""Load a 311 export through its column mapping (default: the city's fixture mapping)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_app.citydata.loading import MappingError, load_311
from layers.management.commands._progress import bar_factory


class Command(BaseCommand):
    help = "Load a city's 311 export described by a TOML column mapping (default: settings.CITY_311_MAPPING)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("mapping", nargs="?", type=Path, default=None)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        mapping = opts["mapping"] or Path(settings.CITY_311_MAPPING)
        try:
            report = load_311(mapping, dry_run=opts["dry_run"], progress=bar_factory()("reading rows"))
        except MappingError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("\n".join(report.lines()))
