"""What is at a point, in the forward geocoder's JSON shape: `manage.py reverse_geocode LON LAT`."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.coords import CoordinateError, point_from_lonlat
from layers.geocoding import GeocoderNotReady, reverse
from layers.lookup import LayerNotLoaded


class Command(BaseCommand):
    help = (
        "Reverse-geocode a point: nearest address point, else the grid's number on the nearest street on the "
        "side the point is on; nearest corner; ward with the distance to its edge; community area."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("lon")
        parser.add_argument("lat")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            point = point_from_lonlat(opts["lon"], opts["lat"])
            self.stdout.write(json.dumps(reverse(point.x, point.y)))
        except (CoordinateError, GeocoderNotReady, LayerNotLoaded) as exc:
            raise CommandError(str(exc)) from None
