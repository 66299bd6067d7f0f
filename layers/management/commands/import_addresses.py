"""Load an address layer: points (OpenAddresses CSV, OSM addr:*) or ranged centrelines (TIGER, Chicago)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.addresses import RANGE_FIELDS, AddressImportError, import_addresses, import_ranges
from layers.management.commands._progress import bar_factory


class Command(BaseCommand):
    help = "Load address points or ranged street centrelines as a recorded layer version (no-op if unchanged)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format",
            required=True,
            choices=["openaddresses", "osm", *RANGE_FIELDS],
            help="openaddresses / osm (points); tiger / chicago (ranged centrelines)",
        )
        parser.add_argument("--name", required=True)
        parser.add_argument("--source", default="")
        parser.add_argument("--licence", default="")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        common = {
            "name": opts["name"],
            "source": opts["source"],
            "licence": opts["licence"],
            "dry_run": opts["dry_run"],
            "progress": bar_factory()(opts["name"]),
        }
        try:
            if opts["format"] in RANGE_FIELDS:
                report = import_ranges(opts["file"], fields=opts["format"], **common)
            else:
                report = import_addresses(opts["file"], kind=opts["format"], **common)
        except AddressImportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("\n".join(report.lines()))
