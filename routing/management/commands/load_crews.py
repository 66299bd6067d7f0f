from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.crews import CrewFileError, load_crews


class Command(BaseCommand):
    help = "Load crews and depots from a crews file (default: settings.CITY_CREWS); idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=None)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            report = load_crews(Path(opts["path"] or settings.CITY_CREWS))
        except CrewFileError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
