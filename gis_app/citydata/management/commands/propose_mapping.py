"""Write a first 311_mapping.toml for a city's export, every guess marked for a person to check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_app.citydata.propose import propose, render


class Command(BaseCommand):
    help = "Guess a 311 mapping from an export's header and rows; writes it next to the export (or --out)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("export", type=Path)
        parser.add_argument("--out", type=Path, default=None, help="default: 311_mapping.toml beside the export")
        parser.add_argument("--force", action="store_true", help="replace an existing file")

    def handle(self, *args: Any, **opts: Any) -> None:
        export: Path = opts["export"]
        if not export.is_file():
            raise CommandError(f"{export}: no such file")
        out: Path = opts["out"] or export.with_name("311_mapping.toml")
        if out.exists() and not opts["force"]:
            raise CommandError(f"{out} exists: pass --force to replace it, or --out to write elsewhere")
        try:
            proposal = propose(export)
        except (UnicodeDecodeError, ValueError) as exc:
            raise CommandError(f"{export}: cannot be read as a CSV with a header row ({exc})") from None
        out.write_text(render(proposal, export), encoding="utf-8")
        found = ", ".join(f"{k}={v!r}" for k, v in proposal.columns.items())
        self.stdout.write(f"wrote {out} from {proposal.rows} rows: {found}")
        if proposal.missing:
            self.stdout.write(f"not found (fill in or drop): {', '.join(proposal.missing)}")
        self.stdout.write(f"check every line marked CHECK, then: manage.py load_311 {out}")
