"""Load the street networks a city's manifest lists (idempotent: unchanged inputs are no-ops)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.network import NetworkError
from routing.streets import load_streets_manifest


class Command(BaseCommand):
    help = "Build and record the street networks listed in a TOML manifest (default: settings.CITY_STREETS_MANIFEST)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("manifest", nargs="?", type=Path, default=None)

    def handle(self, *args: Any, **opts: Any) -> None:
        manifest = opts["manifest"] or Path(settings.CITY_STREETS_MANIFEST)
        try:
            reports = load_streets_manifest(manifest)
        except NetworkError as exc:
            raise CommandError(str(exc)) from None
        for report in reports:
            self.stdout.write("\n".join(report.lines()))
