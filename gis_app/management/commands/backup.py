"""Back up the database and the media files into one dated folder (see gis_app/backups.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_app.backups import COUNTED, BackupError, backup


class Command(BaseCommand):
    help = "pg_dump the database and archive the media files into var/backups/<time>/ (or --to)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to", type=Path, help="the folder to make the dated backup folder in")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            report = backup(opts["to"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = ", ".join(f"{n} {COUNTED[t]}" for t, n in report.counts.items())
        self.stdout.write(f"backup in {report.folder}: {rows}; {report.media_files} media files")
