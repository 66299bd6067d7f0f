"""Restore a backup folder into a new database and a media folder (see gis_app/backups.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_app.backups import COUNTED, BackupError, restore


class Command(BaseCommand):
    help = "Restore FOLDER (made by `manage.py backup`) into a new database and a media folder, then check it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path)
        parser.add_argument("--database", required=True, help="a database that does not exist yet")
        parser.add_argument("--media-to", type=Path, required=True, help="where the media files go")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not (opts["folder"] / "manifest.json").is_file():
            raise CommandError(f"{opts['folder']}: no manifest.json here; give a folder `manage.py backup` made")
        try:
            report = restore(opts["folder"], opts["database"], opts["media_to"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        rows = ", ".join(f"{n} {COUNTED[t]}" for t, n in report.counts.items())
        self.stdout.write(
            f"restored into database {report.database} and {opts['media_to']}: {rows}; {report.media_files} media "
            "files; every count matches the backup"
        )
