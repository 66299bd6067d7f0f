"""Import one boundary file (wards or community areas) as a new layer version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.importing import BoundaryImportSpec, LayerImportError, import_boundaries
from layers.management.commands._progress import bar_factory
from layers.models import LayerKind


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"dates are YYYY-MM-DD; got {raw!r}") from None


class Command(BaseCommand):
    help = "Import a GeoJSON / Shapefile / GeoPackage of wards or community areas as a layer version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--kind", required=True, choices=[k.value for k in LayerKind])
        parser.add_argument("--name", help="Human name of the layer (default: the file name)")
        parser.add_argument("--number-field", required=True, help="Property holding the number, e.g. ward")
        parser.add_argument("--name-field", help="Property holding the name, if any")
        parser.add_argument("--source", default="")
        parser.add_argument("--licence", default="")
        parser.add_argument("--effective-from", type=_date)
        parser.add_argument("--effective-to", type=_date)
        parser.add_argument("--layer-index", type=int, default=0)
        parser.add_argument("--activate", action="store_true", help="Activate the new version after loading")
        parser.add_argument("--dry-run", action="store_true", help="Run the whole load, then roll back")

    def handle(self, *args: Any, **opts: Any) -> None:
        spec = BoundaryImportSpec(
            path=opts["path"],
            kind=opts["kind"],
            name=opts["name"] or opts["path"].name,
            number_field=opts["number_field"],
            name_field=opts["name_field"],
            source=opts["source"],
            licence=opts["licence"],
            effective_from=opts["effective_from"],
            effective_to=opts["effective_to"],
            layer_index=opts["layer_index"],
            activate=opts["activate"],
        )
        try:
            report = import_boundaries(spec, dry_run=opts["dry_run"], progress=bar_factory()(spec.name))
        except LayerImportError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("\n".join(report.lines()))
