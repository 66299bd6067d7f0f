"""The outbox: background jobs recorded in PostgreSQL in the same transaction as the change that causes them,
and handed to the broker after commit, or later by the relay if the broker was away.

Why: a job handed straight to Redis from a view is lost if Redis is down at that moment, and a view that
fails on a down Redis turns a saved request into a 500. Here the job is a row beside the change (both
commit, or neither), the web process tries the broker once after commit and never fails on it, and the relay
(`relay`, on Celery beat every OUTBOX_RELAY_SECONDS, or `manage.py relay_outbox`) publishes whatever is still
waiting once the broker is back. A job may be published twice (the relay and a slow after-commit hand-off can
race): every job taken through here is idempotent on its own row (a notification, a webhook delivery, a run,
an export is done once whatever the deliveries), so each message goes out exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from gis_app.celery import app

log = logging.getLogger(__name__)


class OutboxJob(models.Model):
    """One background job waiting for (or handed to) the broker."""

    task = models.CharField(max_length=100, help_text="The Celery task's registered name.")
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        app_label = "gis_app"
        indexes = [
            models.Index(fields=["created_at"], name="outbox_waiting", condition=models.Q(published_at__isnull=True))
        ]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)} ({'published' if self.published_at else 'waiting'})"


def enqueue(task: Any, *args: Any, **kwargs: Any) -> OutboxJob:
    """Record a job for `task` (a Celery task) in the current transaction; hand it to the broker after commit."""
    job = OutboxJob.objects.create(task=task.name, args=list(args), kwargs=kwargs)
    transaction.on_commit(lambda: publish(job.pk, job), robust=True)
    return job


def send_now(task: Any, *args: Any, **kwargs: Any) -> OutboxJob:
    """For a caller outside any transaction, whose rows are committed already (a view answering at once): the
    job is recorded, then handed to the broker straight away; the relay keeps it if the broker is away."""
    job = OutboxJob.objects.create(task=task.name, args=list(args), kwargs=kwargs)
    publish(job.pk)
    return job


def publish(job_id: int, job: OutboxJob | None = None) -> bool:
    """Hand one waiting job to the broker; False (and the error kept on the row) when the broker is away.

    `job`: the row just committed (enqueue's after-commit hook), not read again; the relay only takes jobs
    older than OUTBOX_GRACE_SECONDS, so it cannot have published this one yet."""
    if job is None:
        job = OutboxJob.objects.filter(pk=job_id, published_at__isnull=True).first()
    if job is None:
        return True
    try:
        app.tasks[job.task].apply_async(args=job.args, kwargs=job.kwargs, retry=False)
    except Exception as exc:  # the broker is down, full or refusing: the relay tries again later
        OutboxJob.objects.filter(pk=job.pk).update(
            attempts=models.F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:1000]
        )
        log.warning("outbox: job %s (%s) waits for the broker: %s", job.pk, job.task, exc)
        return False
    OutboxJob.objects.filter(pk=job.pk).update(published_at=timezone.now(), attempts=models.F("attempts") + 1)
    return True


def relay(older_than_seconds: float | None = None, limit: int = 500) -> dict[str, int]:
    """Publish jobs still waiting (oldest first); rows are claimed with SKIP LOCKED, so two relays never
    publish one job at once. Returns {"published": n, "waiting": m}."""
    age = settings.OUTBOX_GRACE_SECONDS if older_than_seconds is None else older_than_seconds
    cutoff = timezone.now() - dt.timedelta(seconds=age)
    published = 0
    with transaction.atomic():
        ids = list(
            OutboxJob.objects.select_for_update(skip_locked=True)
            .filter(published_at__isnull=True, created_at__lte=cutoff)
            .order_by("created_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        for pk in ids:
            if not publish(pk):
                break  # the broker is still away: the rest wait for the next pass
            published += 1
    waiting = OutboxJob.objects.filter(published_at__isnull=True).count()
    return {"published": published, "waiting": waiting}


@shared_task(name="gis311.relay_outbox", ignore_result=True)
def relay_outbox() -> dict[str, int]:
    """Beat's pass over the outbox."""
    return relay()
