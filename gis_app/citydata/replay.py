"""Replay a loaded history as today's open work, through the real intake path.

The dispatchable requests of a history batch's last settings.REPLAY_DAYS days (not information-only, not
aircraft noise: the mapping says which) are filed again as new open requests, shifted so the last one
arrives now and the spacing between them is kept; intake computes ward, department, SLA and subscriptions
as it would live. The City's duplicate labels are replayed as duplicate links. The original records stay as
closed history. One replay per history batch per day: running it again the same day is a no-op.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gis_app.intake import IntakeData, IntakeError, create_request
from gis_app.models import ImportBatch, ServiceRequest
from gis_app.transitions import TransitionError, apply


@dataclass
class ReplayReport:
    batch_id: int | None
    unchanged: bool = False
    replayed: int = 0
    duplicates_linked: int = 0
    skipped: int = 0
    shift: dt.timedelta = dt.timedelta(0)

    def lines(self) -> list[str]:
        if self.unchanged:
            return [f"already replayed today (batch {self.batch_id}); nothing written"]
        return [
            f"replayed {self.replayed} requests as today's open work (shifted by {self.shift}); "
            f"{self.duplicates_linked} duplicate links; {self.skipped} skipped"
        ]


def replay_today(
    history: ImportBatch | None = None,
    *,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayReport:
    history = history or ImportBatch.objects.filter(kind="history").order_by("-loaded_at").first()
    if history is None:
        raise ValueError("no 311 history is loaded: run `manage.py load_311` first")
    now = now or timezone.now()
    key = f"{history.checksum}:{timezone.localdate(now).isoformat()}"[:64]
    done = ImportBatch.objects.filter(kind="replay", checksum=key).first()
    if done:
        return ReplayReport(batch_id=done.pk, unchanged=True)
    originals = list(
        ServiceRequest.objects.filter(import_batch=history, source_data__dispatchable=True, location__isnull=False)
        .select_related("service_type")
        .order_by("requested_at")
    )
    if not originals:
        raise ValueError(f"history batch {history.pk} has no dispatchable requests to replay")
    # The history's last REPLAY_DAYS days, not all of it: a sample spread over years would otherwise be filed
    # as thousands of open requests, years overdue.
    since = originals[-1].requested_at - dt.timedelta(days=settings.REPLAY_DAYS)
    originals = [o for o in originals if o.requested_at >= since]
    shift = now - originals[-1].requested_at
    report = ReplayReport(batch_id=None, shift=shift)
    with transaction.atomic():
        batch = ImportBatch.objects.create(kind="replay", source=f"replay of {history.source}", checksum=key)
        replayed: dict[str, ServiceRequest] = {}
        for i, orig in enumerate(originals, start=1):
            try:
                req = create_request(
                    IntakeData(
                        service_code=orig.service_type.code,
                        location=orig.location,
                        address=orig.address,
                        located_by=orig.located_by,
                        description=f"Replayed from {orig.external_id}",
                        channel=orig.channel,
                        requested_at=orig.requested_at + shift,
                        external_id=orig.external_id,
                    ),
                    actor_label="replay",
                    link_duplicates=False,
                )  # the City's own labels are replayed below
            except IntakeError:
                report.skipped += 1
                continue
            req.import_batch = batch
            req.source_data = {"replay_of": orig.ticket, "original_requested_at": orig.requested_at.isoformat()}
            req.save(update_fields=["import_batch", "source_data"])
            replayed[orig.external_id] = req
            if progress and i % 100 == 0:
                progress(i, len(originals))
        for orig in originals:
            parent_id = orig.source_data.get("parent_id")
            child = replayed.get(orig.external_id)
            if orig.source_data.get("duplicate") and parent_id in replayed and child is not None:
                try:
                    apply(
                        child,
                        "mark_duplicate",
                        parent=replayed[parent_id],
                        actor_label="replay",
                        note=f"the City labelled {orig.external_id} a duplicate of {parent_id}",
                    )
                    report.duplicates_linked += 1
                except TransitionError:
                    pass
        report.replayed = len(replayed)
        batch.counts = {
            "replayed": report.replayed,
            "duplicates_linked": report.duplicates_linked,
            "skipped": report.skipped,
            "shift_seconds": shift.total_seconds(),
        }
        batch.save(update_fields=["counts"])
        report.batch_id = batch.pk
    return report
