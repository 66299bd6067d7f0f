"""The outbox: background jobs recorded in PostgreSQL in the same transaction as the change that causes them,
and handed to the broker after commit, or later by the relay if the broker was away.

Why: a job handed straight to Redis from a view is lost if Redis is down at that moment, and a view that
fails on a down Redis turns a saved request into a 500. Here the job is a row beside the change (both
commit, or neither), the web process hands it to the broker after commit (from a thread of its own, in batches:
`hand_off`) and never fails on it, and the relay
(`relay`, on Celery beat every OUTBOX_RELAY_SECONDS, or `manage.py relay_outbox`) publishes whatever is still
waiting once the broker is back. A job is finished when a worker's task succeeds (`done_at`, stamped by the
task_postrun handler below from the message's `outbox_job` header); a job the broker took but no worker finished
within OUTBOX_REDELIVER_SECONDS is published again, because a broker that restarts without keeping its queue
drops every message in it (benchmarks/faults.py lost hundreds of notifications that way). A job may therefore be
published twice (also when the relay and a slow after-commit hand-off race): every job taken through here is
idempotent on its own row (a notification, a webhook delivery, a run, an export is done once whatever the
deliveries), so each message goes out exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import threading
from typing import Any

from celery import shared_task, signals
from celery.exceptions import Retry
from django.conf import settings
from django.db import close_old_connections, connection, models, transaction
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
    redeliver_at = models.DateTimeField(
        null=True, blank=True, help_text="Published again if no worker has finished it by then."
    )
    done_at = models.DateTimeField(null=True, blank=True, help_text="When a worker's task finished it.")
    attempts = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(default=0, help_text="How many times the broker took it.")
    last_error = models.TextField(blank=True)

    class Meta:
        app_label = "gis_app"
        indexes = [
            models.Index(fields=["created_at"], name="outbox_waiting", condition=models.Q(published_at__isnull=True)),
            models.Index(fields=["redeliver_at"], name="outbox_unfinished", condition=models.Q(done_at__isnull=True)),
        ]

    def __str__(self) -> str:
        state = "done" if self.done_at else "published" if self.published_at else "waiting"
        return f"{self.task}{tuple(self.args)} ({state})"


def enqueue(task: Any, *args: Any, **kwargs: Any) -> OutboxJob:
    """Record a job for `task` (a Celery task) in the current transaction; hand it to the broker after commit."""
    job = OutboxJob.objects.create(task=task.name, args=list(args), kwargs=kwargs)
    transaction.on_commit(lambda: hand_off(job), robust=True)
    return job


def send_now(task: Any, *args: Any, **kwargs: Any) -> OutboxJob:
    """For a caller outside any transaction, whose rows are committed already (a view answering at once): the
    job is recorded, then handed to the broker straight away; the relay keeps it if the broker is away."""
    job = OutboxJob.objects.create(task=task.name, args=list(args), kwargs=kwargs)
    hand_off(job)
    return job


def hand_off(job: OutboxJob) -> None:
    """A committed job to the broker: from this process's publisher thread (settings.OUTBOX_PUBLISH_IN_BACKGROUND),
    so the request that made it answers without waiting on Redis and the "published" marks go in one UPDATE per
    batch; inline where tasks run eagerly (tests, a laptop without a worker), where the caller expects the work
    done when it returns."""
    if settings.OUTBOX_PUBLISH_IN_BACKGROUND and not settings.CELERY_TASK_ALWAYS_EAGER:
        _publisher.submit(job)
    else:
        publish_batch([job])


def publish_batch(jobs: list[OutboxJob]) -> int:
    """Hand jobs to the broker in order, then mark those it took in one UPDATE; returns how many it took.

    At the first refusal (the broker down, full or refusing) the rest are not tried: that job and those after it
    keep the error and wait for the relay. A job the broker took whose mark is lost (the process dies, the
    database restarts) is published again by the relay: every job is idempotent on its own row."""
    taken: list[int] = []
    for i, job in enumerate(jobs):
        try:
            app.tasks[job.task].apply_async(args=job.args, kwargs=job.kwargs, retry=False, headers={HEADER: job.pk})
        except Exception as exc:  # the broker is away: this job and the rest wait for the relay
            OutboxJob.objects.filter(pk__in=[j.pk for j in jobs[i:]]).update(
                attempts=models.F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:1000]
            )
            log.warning("outbox: %d job(s) from %s (%s) wait for the broker: %s", len(jobs) - i, job.pk, job.task, exc)
            break
        taken.append(job.pk)
    if taken:
        now, redeliver = timezone.now(), dt.timedelta(seconds=settings.OUTBOX_REDELIVER_SECONDS)
        OutboxJob.objects.filter(pk__in=taken).update(
            published_at=now,
            # A job a worker finished already (eagerly, or faster than this UPDATE) is not due again.
            redeliver_at=models.Case(
                models.When(done_at__isnull=True, then=models.Value(now + redeliver)), default=None
            ),
            attempts=models.F("attempts") + 1,
            deliveries=models.F("deliveries") + 1,
        )
    return len(taken)


HEADER = "outbox_job"


@signals.task_postrun.connect
def _finished(task: Any = None, state: str | None = None, retval: Any = None, **_: Any) -> None:
    """A worker's task ran: a job that succeeded is done; one that will retry is given until its retry is due
    plus OUTBOX_REDELIVER_SECONDS. One that failed (its retries spent while the database was away, say) keeps
    its redeliver time and is published again, at most OUTBOX_MAX_DELIVERIES times in all, then counted as
    given up: a job's own row records a failure it means (a notification marked failed returns normally). A job
    whose mark cannot be written (the database is away) is published again later; its idempotence makes that
    harmless."""
    request = getattr(task, "request", None)
    job_id = (request.headers or {}).get(HEADER) or request.get(HEADER) if request is not None else None
    if not isinstance(job_id, int):
        return
    now = timezone.now()
    try:
        jobs = OutboxJob.objects.filter(pk=job_id, done_at__isnull=True)
        if state == "RETRY" and isinstance(retval, Retry):
            when = retval.when
            due = when if isinstance(when, dt.datetime) else now + dt.timedelta(seconds=float(when or 0))
            jobs.update(redeliver_at=due + dt.timedelta(seconds=settings.OUTBOX_REDELIVER_SECONDS))
        elif state == "SUCCESS":
            jobs.update(done_at=now, redeliver_at=None)
    except Exception:  # the database is away: the job is published again after its redeliver time
        log.warning("outbox: job %s ran (%s) but could not be marked", job_id, state, exc_info=True)


class _Publisher:
    """One daemon thread per process handing committed jobs to the broker in batches.

    Why: publishing inline cost each intake about 1.4 ms of its request (a Celery send and an UPDATE of its own)
    and made the reporter wait on Redis. A job waiting here is already a committed row: if the process dies
    first, the relay publishes it after OUTBOX_GRACE_SECONDS. Started lazily and again after a fork (gunicorn
    forks its workers from a preloaded master); its database connection is closed after IDLE_SECONDS without
    work, so an idle process holds none."""

    BATCH = 200
    IDLE_SECONDS = 2.0

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[OutboxJob | threading.Event] = queue.SimpleQueue()
        self._pid = 0
        self._lock = threading.Lock()

    def submit(self, job: OutboxJob) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.SimpleQueue()
                    threading.Thread(target=self._run, args=(self._queue,), name="outbox", daemon=True).start()
                    self._pid = os.getpid()
        self._queue.put(job)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every job submitted so far is handed over and the thread's connection is closed (a
        gunicorn worker on its way out; a test before its database goes). False if that took over `timeout`."""
        if self._pid != os.getpid():
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _run(self, jobs: queue.SimpleQueue[OutboxJob | threading.Event]) -> None:
        while True:
            try:
                first = jobs.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                connection.close()
                continue
            batch = [first]
            while len(batch) < self.BATCH and not isinstance(batch[-1], threading.Event):
                try:
                    batch.append(jobs.get_nowait())
                except queue.Empty:
                    break
            waiting = [job for job in batch if isinstance(job, OutboxJob)]
            marks = [mark for mark in batch if isinstance(mark, threading.Event)]
            close_old_connections()  # as a request does: a connection PostgreSQL dropped is opened afresh
            try:
                if waiting:
                    publish_batch(waiting)
            except Exception:  # the database is away: the rows wait for the relay, the thread goes on
                log.exception("outbox: %d job(s) left to the relay", len(waiting))
            for mark in marks:
                connection.close()
                mark.set()


_publisher = _Publisher()
drain = _publisher.drain


def relay(older_than_seconds: float | None = None, limit: int = 500) -> dict[str, int]:
    """Publish jobs still waiting (oldest first), then jobs published but unfinished past their redeliver time
    (the broker lost them), each at most OUTBOX_MAX_DELIVERIES times. Rows are claimed with SKIP LOCKED, so two
    relays never publish one job at once. Returns {"published", "redelivered", "waiting", "given_up"}."""
    age = settings.OUTBOX_GRACE_SECONDS if older_than_seconds is None else older_than_seconds
    now = timezone.now()
    unfinished = OutboxJob.objects.filter(done_at__isnull=True, redeliver_at__lte=now)
    with transaction.atomic():
        waiting_jobs = list(
            OutboxJob.objects.select_for_update(skip_locked=True)
            .filter(published_at__isnull=True, created_at__lte=now - dt.timedelta(seconds=age))
            .order_by("created_at", "id")[:limit]
        )
        published = publish_batch(waiting_jobs) if waiting_jobs else 0
    with transaction.atomic():
        lost = list(
            unfinished.select_for_update(skip_locked=True)
            .filter(deliveries__lt=settings.OUTBOX_MAX_DELIVERIES)
            .order_by("redeliver_at", "id")[:limit]
        )
        redelivered = publish_batch(lost) if lost else 0
    if lost:
        log.warning("outbox: %d job(s) published again: taken by the broker, never finished", redelivered)
    return {
        "published": published,
        "redelivered": redelivered,
        "waiting": OutboxJob.objects.filter(published_at__isnull=True).count(),
        "given_up": unfinished.filter(deliveries__gte=settings.OUTBOX_MAX_DELIVERIES).count(),
    }


@shared_task(name="gis311.relay_outbox", ignore_result=True)
def relay_outbox() -> dict[str, int]:
    """Beat's pass over the outbox."""
    return relay()
