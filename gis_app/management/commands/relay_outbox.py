"""Publish the outbox's waiting jobs, and those the broker lost, once (beat does it every OUTBOX_RELAY_SECONDS)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from gis_app.outbox import relay


class Command(BaseCommand):
    help = "Hand the outbox's waiting background jobs to the broker (after an outage, or without beat)."

    def handle(self, *args: Any, **opts: Any) -> None:
        done = relay(older_than_seconds=0)
        self.stdout.write(
            f"published {done['published']}; published again (taken, never finished) {done['redelivered']}; "
            f"still waiting {done['waiting']}; given up after {settings.OUTBOX_MAX_DELIVERIES} deliveries "
            f"{done['given_up']}"
        )
