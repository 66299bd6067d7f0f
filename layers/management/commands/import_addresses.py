"""Load an address layer: points (OpenAddresses CSV, OSM addr:*) or ranged centrelines (TIGER, or a city's own
layout named in a TOML file of its columns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.addresses import AddressImportError, import_addresses
from layers.management.commands._progress import bar_factory
from layers.ranges import RANGE_FIELDS, import_ranges


class Command(BaseCommand):
    help = "Load address points or ranged street centrelines as a recorded layer version (no-op if unchanged)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--format",
            required=True,
            choices=["openaddresses", "osm", *RANGE_FIELDS, "ranges"],
            help="openaddresses / osm (points); tiger, or ranges with --fields (ranged centrelines)",
        )
        parser.add_argument(
            "--fields",
            type=Path,
            help="with --format ranges: a TOML file naming the columns (fixtures/chicago/centreline_fields.toml)",
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
            if opts["format"] == "ranges" and opts["fields"] is None:
                raise CommandError("--format ranges needs --fields FILE.toml naming the file's columns")
            if opts["format"] in (*RANGE_FIELDS, "ranges"):
                layout = opts["fields"] if opts["format"] == "ranges" else opts["format"]
                report = import_ranges(opts["file"], fields=layout, **common)
            else:
                report = import_addresses(opts["file"], kind=opts["format"], **common)
        except AddressImportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("\n".join(report.lines()))
