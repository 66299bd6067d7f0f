"""Replay the loaded 311 history's dispatchable requests as today's open work (once a day)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gis_app.citydata.replay import replay_today
from layers.management.commands._progress import bar_factory


class Command(BaseCommand):
    help = "File the history's dispatchable requests again, through intake, as today's open requests."

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            report = replay_today(progress=bar_factory()("replaying"))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("\n".join(report.lines()))
