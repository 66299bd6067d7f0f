"""Print a one-time sign-in link for a crew's tablet (the QR code of the same link is at /field/links/)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.utils import timezone

from field_api.models import DeviceSignIn
from field_api.tablet import sign_in_url
from routing.models import Crew, PlanStatus, Route


def busiest_crew() -> tuple[Crew, Route] | None:
    """The crew with the most stops on the next published route (today's, else the next day planned)."""
    route = (
        Route.objects.filter(plan__status=PlanStatus.PUBLISHED, plan__service_date__gte=timezone.localdate())
        .annotate(n=Count("stops"))
        .filter(n__gt=0)
        .select_related("crew", "plan")
        .order_by("plan__service_date", "-n", "crew__code")
        .first()
    )
    return (route.crew, route) if route else None


class Command(BaseCommand):
    help = "Issue a one-time sign-in link for a crew tablet (printed; it works once, for FIELD_SIGN_IN_HOURS)."

    def add_arguments(self, parser: CommandParser) -> None:
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument("--crew", help="Crew code")
        who.add_argument("--busiest", action="store_true", help="The crew with the most stops on the next route")
        parser.add_argument("--name", default="Crew tablet", help="Which device, e.g. 'Truck 14 tablet'")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["busiest"]:
            found = busiest_crew()
            if found is None:
                self.stdout.write("no published route from today on: no tablet link to make (run plan_routes)")
                return
            crew, route = found
            about = f" (route for {route.plan.service_date:%A %Y-%m-%d}, {route.stops.count()} stops)"
        else:
            crew_or_none = Crew.objects.filter(code=opts["crew"]).first()
            if crew_or_none is None:
                raise CommandError(f"no crew with code {opts['crew']!r}; the admin lists crews and their codes")
            crew, about = crew_or_none, ""
        link, raw = DeviceSignIn.issue(crew, opts["name"], hours=settings.FIELD_SIGN_IN_HOURS)
        url = sign_in_url(f"{settings.SITE_URL.rstrip('/')}/field/", raw)
        until = timezone.localtime(link.expires_at)
        self.stdout.write(f"crew tablet sign-in for {crew.name}{about}, once, until {until:%Y-%m-%d %H:%M}:")
        self.stdout.write(f"  {url}")
