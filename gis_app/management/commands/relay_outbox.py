"""Publish the outbox's waiting jobs once (beat does it every OUTBOX_RELAY_SECONDS; see gis_app/outbox.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from gis_app.outbox import relay


class Command(BaseCommand):
    help = "Hand the outbox's waiting background jobs to the broker (after an outage, or without beat)."

    def handle(self, *args: Any, **opts: Any) -> None:
        done = relay(older_than_seconds=0)
        self.stdout.write(f"published {done['published']}; still waiting {done['waiting']}")
