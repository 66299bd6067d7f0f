"""Load every boundary layer a city's manifest lists (idempotent: unchanged files are no-ops)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.addresses import AddressImportError, load_address_manifest
from layers.importing import LayerImportError, load_manifest
from layers.management.commands._progress import bar_factory


class Command(BaseCommand):
    help = "Load the boundary layers listed in a TOML manifest (default: settings.CITY_LAYER_MANIFEST)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("manifest", nargs="?", type=Path, default=None)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        manifest = opts["manifest"] or Path(settings.CITY_LAYER_MANIFEST)
        make_bar = bar_factory()
        try:
            reports = load_manifest(manifest, dry_run=opts["dry_run"], progress_for=lambda s: make_bar(s.name))
            addresses = load_address_manifest(manifest, dry_run=opts["dry_run"])
        except (LayerImportError, AddressImportError) as exc:
            raise CommandError(str(exc)) from None
        for lines in [r.lines() for r in reports] + [a.lines() for a in addresses]:
            self.stdout.write("\n".join(lines))
