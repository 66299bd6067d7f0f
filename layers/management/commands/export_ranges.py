"""Ranged centrelines from the address grid, for a city that has none: `manage.py export_ranges OUT.geojson`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.geocoding import GeocoderNotReady, grid_ranges


class Command(BaseCommand):
    help = (
        "Write the street layer's named segments with the house-number ranges the address grid gives them "
        "(TIGER/Line ADDRFEAT fields, GeoJSON); `import_addresses --format tiger` reads them back."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path, help="the GeoJSON file to write ('-' for standard output)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            collection = grid_ranges()
        except GeocoderNotReady as exc:
            raise CommandError(str(exc)) from None
        text = json.dumps(collection)
        if str(opts["out"]) == "-":
            self.stdout.write(text)
            return
        opts["out"].write_text(text)
        ranged = sum(
            1
            for f in collection["features"]
            if f["properties"]["LFROMHN"] is not None or f["properties"]["RFROMHN"] is not None
        )
        self.stdout.write(
            f"{opts['out']}: {len(collection['features'])} segments, {ranged} with numbers "
            f"({collection['properties']['source']})"
        )
