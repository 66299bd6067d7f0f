"""Learn dedup parameters from the loaded history's labelled duplicates and write them onto the service types."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gis_app.citydata.dedup_learning import apply_learned, learn_parameters, learn_thresholds, look_up
from gis_app.models import ImportBatch, ServiceRequest, ServiceType

MIN_PRECISION = 0.95


class Command(BaseCommand):
    help = (
        "Radius, window and auto-link thresholds from every labelled pair of the loaded history (best F1 at "
        "precision ≥ 0.95). A type with too few pairs keeps its defaults and dedup only suggests for it. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min-pairs",
            type=int,
            default=None,
            help="labelled pairs needed to learn (default settings.DEDUP_MIN_PAIRS, at least 1)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        min_pairs = max(1, opts["min_pairs"] if opts["min_pairs"] is not None else settings.DEDUP_MIN_PAIRS)
        batches = list(ImportBatch.objects.filter(kind="history").values_list("pk", flat=True))
        if not batches:
            raise CommandError("no 311 history is loaded: run `manage.py load_311` first")
        rows = list(
            ServiceRequest.objects.filter(
                import_batch__in=batches,
                location__isnull=False,  # issues, not contacts
                source_data__dispatchable=True,
            )
            .select_related("service_type", "parent")
            .order_by("requested_at")
        )
        if not rows:
            raise CommandError("the loaded history has no located requests to learn from")
        days = sorted({r.requested_at.date() for r in rows})
        learned = learn_parameters([r for r in rows if r.parent_id], min_pairs=min_pairs)
        radius = learned.radius_m if learned.pairs >= min_pairs else None
        window = learned.window_days if learned.pairs >= min_pairs else None
        looked = look_up(rows, radius_m=radius, window_days=window)
        types = list(ServiceType.objects.filter(location_required=True))
        thresholds = learn_thresholds(looked, types, min_pairs=min_pairs, min_precision=MIN_PRECISION)
        changed = apply_learned(learned, thresholds, types, min_pairs=min_pairs)
        span = f"{days[0]} … {days[-1]} ({len(days)} days)"
        if learned.pairs < min_pairs:
            self.stdout.write(
                f"only {learned.pairs} labelled pairs in {len(rows)} requests filed {span}: fewer than {min_pairs}, "
                "so nothing is learned; every type keeps its defaults and dedup only suggests"
            )
        else:
            self.stdout.write(
                f"learned from {learned.pairs} labelled pairs in {len(rows)} requests filed {span}: radius "
                f"{learned.radius_m:.0f} m, window {learned.window_days:.0f} days"
            )
        by_basis: dict[str, list[str]] = {}
        for st in types:
            t = thresholds[st.pk]
            by_basis.setdefault(t.basis, []).append(f"{st.code} {t.threshold:.3f}")
        for basis, codes in sorted(by_basis.items()):
            links = "only suggests" if basis == "default" else "links on its own"
            self.stdout.write(f"  {basis}: {len(codes)} types ({links}): {', '.join(codes[:12])}")
        self.stdout.write(f"{changed} service types updated")
