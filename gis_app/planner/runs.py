"""Starting and carrying out a planner run: small ones at once, large ones on the Celery worker with progress.

Why both: a ward over a quarter answers in a second and a planner should not wait on a queue for it; the whole
city over years takes long enough that a web request would time out, so it runs as a job the page polls.
"""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from gis_app import outbox
from gis_app.planner.analysis import Filters, analyse, parse_filters, selected
from gis_app.planner.models import HotSpotRun
from gis_app.planner.stats import PlannerInputError

PROGRESS_EVERY_S = 0.5  # progress writes at most this often (each is an UPDATE)


def start_run(f: Filters, user: Any = None) -> HotSpotRun:
    """Record the run; carry it out now when it is small, else queue it (the caller answers 202 with its URL)."""
    n = selected(f).count()
    run = HotSpotRun.objects.create(params=f.as_json(), requests=n, requested_by=user if user and user.pk else None)
    if n <= settings.PLANNER_INLINE_MAX_REQUESTS:
        execute(run.pk, f)
    else:
        outbox.enqueue(run_hot_spots, run.pk)
    run.refresh_from_db()
    return run


def execute(run_id: int, f: Filters | None = None) -> None:
    """Carry out one run; idempotent (a finished run is left as it is, so a redelivered job does nothing)."""
    run = HotSpotRun.objects.filter(pk=run_id).first()
    if run is None or run.state in (HotSpotRun.State.DONE, HotSpotRun.State.FAILED):
        return
    if f is None:
        f = parse_filters(run.params)
    last = [0.0]

    def progress(stage: str, share: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            HotSpotRun.objects.filter(pk=run_id).update(state=HotSpotRun.State.RUNNING, stage=stage, progress=share)

    HotSpotRun.objects.filter(pk=run_id).update(state=HotSpotRun.State.RUNNING, stage="starting", progress=0.0)
    try:
        result = analyse(f, progress)
    except PlannerInputError as exc:
        HotSpotRun.objects.filter(pk=run_id).update(
            state=HotSpotRun.State.FAILED, detail=str(exc), finished_at=timezone.now()
        )
        return
    HotSpotRun.objects.filter(pk=run_id).update(
        state=HotSpotRun.State.DONE,
        stage="done",
        progress=1.0,
        result=result,
        requests=result["requests"],
        finished_at=timezone.now(),
    )


@shared_task(acks_late=True, name="planner.run_hot_spots")
def run_hot_spots(run_id: int) -> None:
    """The background job. Late acknowledgement: a worker killed mid-run leaves the job on the queue, and
    `execute` skips a finished run, so a redelivery does nothing twice."""
    execute(run_id)
