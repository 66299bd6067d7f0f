from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from field_api.models import DeviceToken
from routing.models import Crew


class Command(BaseCommand):
    help = "Issue a device token for a crew's tablet; the token is printed once and stored hashed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--crew", required=True, help="Crew code")
        parser.add_argument("--name", default="tablet", help="Which device, e.g. 'Truck 14 tablet'")

    def handle(self, *args: Any, **opts: Any) -> None:
        crew = Crew.objects.filter(code=opts["crew"]).first()
        if crew is None:
            raise CommandError(f"no crew with code {opts['crew']!r}; see `manage.py shell` or the admin for codes")
        token, raw = DeviceToken.issue(crew, opts["name"])
        self.stdout.write(f"{crew.name} / {token.name}: {raw}")
