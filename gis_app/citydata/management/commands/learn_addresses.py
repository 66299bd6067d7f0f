"""Learn address points from the loaded 311 history's located house addresses (a city with no address file)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_app.citydata.address_learning import learn_address_points
from gis_app.models import ImportBatch


class Command(BaseCommand):
    help = (
        "One address point per house address of the located history (the median of its requests' points), saved "
        "as an address-point layer version. Runs when the city's city.toml says [geocoding] "
        "learn_address_points = true (or with --force). Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="learn even where city.toml does not ask for it")
        parser.add_argument("--dry-run", action="store_true", help="report what would be loaded; write nothing")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not (settings.CITY_LEARN_ADDRESS_POINTS or opts["force"]):
            self.stdout.write(
                f"{settings.CITY_NAME}: address points are not learned from the history (city.toml [geocoding] "
                "learn_address_points is off; --force learns them anyway). Nothing written."
            )
            return
        if not ImportBatch.objects.filter(kind="history").exists():
            raise CommandError("no 311 history is loaded: run `manage.py load_311` first")
        self.stdout.write("\n".join(learn_address_points(dry_run=opts["dry_run"]).lines()))
