"""Learn dedup parameters from the City's labelled duplicates and write them onto the service types."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from gis_app.citydata.dedup_learning import apply_learned, choose_threshold, learn_parameters, look_up
from gis_app.models import ImportBatch, ServiceRequest


class Command(BaseCommand):
    help = (
        "Radius and window from the labelled pairs of the loaded history; the auto-link threshold chosen on its "
        "first day (best F1 at precision ≥ 0.95). Idempotent."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        history = ImportBatch.objects.filter(kind="history").order_by("loaded_at").first()
        if history is None:
            raise CommandError("no 311 history is loaded: run `manage.py load_311` first")
        rows = (
            ServiceRequest.objects.filter(
                import_batch=history,
                location__isnull=False,  # issues, not contacts
                source_data__dispatchable=True,
            )
            .select_related("service_type", "parent")
            .order_by("requested_at")
        )
        first = rows.first()
        if first is None:
            raise CommandError("the loaded history has no located requests to learn from")
        first_day = timezone.localdate(first.requested_at)
        train = [r for r in rows if timezone.localdate(r.requested_at) == first_day]
        learned = learn_parameters([r for r in train if r.parent_id])
        looked = look_up(train, radius_m=learned.radius_m, window_days=learned.window_days)
        threshold = choose_threshold(looked, min_precision=0.95)
        changed = apply_learned(learned, threshold)
        self.stdout.write(
            f"learned from {learned.pairs} labelled pairs filed {first_day}: radius "
            f"{learned.radius_m:.0f} m, window {learned.window_days:.0f} days, auto-link at score "
            f"{threshold:.3f}; {changed} service types updated"
        )
