"""Geocode one address per input line (a file, or - for standard input); one JSON object per output line."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.geocoding import GeocoderNotReady, geocode_many

BATCH = 5000


class Command(BaseCommand):
    help = "Forward-geocode addresses and intersections (input, status, kind, lon, lat, score, address, ward, ...)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="a text file with one address per line, or - for standard input")
        parser.add_argument("--format", choices=["jsonl"], default="jsonl")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            fh = sys.stdin if opts["file"] == "-" else open(opts["file"], encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot read {opts['file']}: {exc.strerror}") from None
        try:
            lines = [line.rstrip("\n") for line in fh if line.strip()]
        finally:
            if fh is not sys.stdin:
                fh.close()
        try:
            for start in range(0, len(lines), BATCH):
                for result in geocode_many(lines[start : start + BATCH]):
                    self.stdout.write(json.dumps(result.as_dict()))
        except GeocoderNotReady as exc:
            raise CommandError(str(exc)) from None
