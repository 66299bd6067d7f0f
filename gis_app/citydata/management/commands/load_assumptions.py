"""Apply the city's demo assumptions (holidays, SLAs from observed close times, crew minutes, skills)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from gis_app.citydata.assumptions import apply_assumptions


class Command(BaseCommand):
    help = "Apply a demo assumptions TOML (default: settings.CITY_ASSUMPTIONS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", type=Path, default=None)

    def handle(self, *args: Any, **opts: Any) -> None:
        report = apply_assumptions(opts["path"] or Path(settings.CITY_ASSUMPTIONS))
        self.stdout.write("\n".join(report.lines()))
