"""Create (once) and print the demo council member's login: a member for the ward with the most open requests
(or --ward), with the demo administrator's password (var/demo-admin.txt), to see the council pages as one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from field_api.reports.models import CouncilSeat
from gis_app.models import ServiceRequest
from gis_app.roles import ensure_roles


class Command(BaseCommand):
    help = "Create the demo council member if missing and print the login (run after demo_admin)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ward", type=int, help="the member's ward (default: the one with most open requests)")

    def handle(self, *args: Any, **opts: Any) -> None:
        store = Path(settings.BASE_DIR) / "var" / "demo-admin.txt"
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or (store.read_text().strip() if store.exists() else "")
        if not password:
            raise CommandError("run `manage.py demo_admin` first: the council login shares its password")
        ward = opts["ward"] or (
            ServiceRequest.objects.open()
            .exclude(ward_number=None)
            .values("ward_number")
            .annotate(n=Count("id"))
            .order_by("-n", "ward_number")
            .values_list("ward_number", flat=True)
            .first()
        )
        if ward is None:
            raise CommandError("no request has a ward yet: load the demo data first, or give --ward")
        ensure_roles()
        user, _ = get_user_model().objects.get_or_create(username="council", defaults={"email": "council@example.org"})
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get(name="council member"))
        CouncilSeat.objects.update_or_create(user=user, defaults={"ward_number": ward})
        self.stdout.write(
            f"council member login: http://127.0.0.1:8000/council/  user council  password {password}  "
            f"({settings.CITY_DISTRICT_WORD} {ward})"
        )
