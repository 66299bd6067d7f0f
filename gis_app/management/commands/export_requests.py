"""Export requests as open data (CSV or GeoJSON) with nothing personal in them; see gis_app/opendata.py."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gis_app.opendata import DICTIONARY, FORMATS, ExportError, chunks, parse_export_filters, selected


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("--start", help="YYYY-MM-DD (default: 30 days before --end)")
        parser.add_argument("--end", help="YYYY-MM-DD (default: today)")
        parser.add_argument("--ward", default="", help="ward numbers, comma-separated")
        parser.add_argument("--service-code", default="", help="type codes, comma-separated")
        parser.add_argument("--output", help="file to write (default: standard output)")
        parser.add_argument("--dictionary", action="store_true", help="print the data dictionary and stop")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["dictionary"]:
            self.stdout.write(json.dumps(DICTIONARY, indent=2))
            return
        try:
            f = parse_export_filters(
                {"start": opts["start"], "end": opts["end"], "ward": opts["ward"], "service_code": opts["service_code"]}
            )
        except ExportError as exc:
            raise CommandError(str(exc)) from None
        n = selected(f).count()
        out = open(opts["output"], "w", encoding="utf-8") if opts["output"] else sys.stdout  # noqa: SIM115
        try:
            for piece in chunks(opts["format"], f):
                out.write(piece)
        finally:
            if out is not sys.stdout:
                out.close()
        if opts["output"]:
            self.stderr.write(f"{n} requests from {f.start} to {f.end} written to {opts['output']}")
