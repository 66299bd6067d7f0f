"""Create (once) and print the demo administrator's login."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo superuser if missing and print its login (password kept in var/demo-admin.txt)."

    def handle(self, *args: Any, **opts: Any) -> None:
        username = os.environ.get("DEMO_ADMIN_USER", "admin")
        store = Path(settings.BASE_DIR) / "var" / "demo-admin.txt"
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or (
            store.read_text().strip() if store.exists() else secrets.token_urlsafe(12)
        )
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(password + "\n")
        store.chmod(0o600)
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.org"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"admin login: http://127.0.0.1:8000/admin/  user {username}  password {password}")
