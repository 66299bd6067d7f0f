from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from field_api.models import Open311Key


class Command(BaseCommand):
    help = (
        "Issue an Open311 api_key for a client that posts requests (printed once, stored hashed), or revoke "
        "one by its prefix."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="Which client, e.g. 'SeeClickFix bridge'")
        parser.add_argument("--email", default="", help="Who to tell when the key or the API changes")
        parser.add_argument("--revoke", metavar="PREFIX", help="Revoke the live key with this prefix")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["revoke"]:
            keys = list(Open311Key.objects.live().filter(prefix=opts["revoke"]))
            if len(keys) != 1:
                raise CommandError(f"{len(keys)} live keys have prefix {opts['revoke']!r}; expected exactly one")
            keys[0].revoke()
            self.stdout.write(f"revoked {keys[0]}")
            return
        if not opts["name"]:
            raise CommandError("give the client's name (or --revoke PREFIX)")
        key, raw = Open311Key.issue(opts["name"], opts["email"])
        self.stdout.write(f"{key.name}: {raw}")
