"""Activate, retire or roll back boundary layer versions; list them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from layers.importing import LayerActivationError, activate, retire, rollback_last
from layers.models import LayerKind, LayerVersion


class Command(BaseCommand):
    help = "list | activate ID | retire ID | rollback KIND: manage which layer versions answer lookups."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["list", "activate", "retire", "rollback"])
        parser.add_argument("target", nargs="?", help="a version id (activate, retire) or a kind (rollback)")
        parser.add_argument(
            "--keep-overlapping",
            action="store_true",
            help="refuse to activate rather than retire overlapping active versions",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        action, target = opts["action"], opts["target"]
        if action == "list":
            for v in LayerVersion.objects.all():
                self.stdout.write(f"{v.pk:>4}  {v}  features={v.feature_count}  sha256={v.checksum[:12]}")
            return
        try:
            if action == "rollback":
                if target not in LayerKind.values:
                    raise CommandError(f"rollback takes a kind: {', '.join(LayerKind.values)}")
                report = rollback_last(target)
            else:
                try:
                    version = LayerVersion.objects.get(pk=int(target or ""))
                except (ValueError, LayerVersion.DoesNotExist):
                    raise CommandError(f"{action} takes an existing layer version id; got {target!r}") from None
                if action == "activate":
                    report = activate(version, replace_overlapping=not opts["keep_overlapping"])
                else:
                    report = retire(version)
        except LayerActivationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write("\n".join(report.lines()))
