"""A job the broker took but no worker finished is published again (issue 25, "every notification sent exactly
once"): a Redis that restarts without keeping its queue drops every message in it, and before this the outbox
called such a job published and never looked at it again (benchmarks/faults.py: hundreds of notifications
stuck pending).

Actors: Rosa, a resident who asked for an e-mail; the relay (beat's pass over the outbox)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.utils import timezone

from gis_app import outbox
from gis_app.models import Notification
from gis_app.outbox import OutboxJob, relay
from layers.coords import point_from_lonlat
from tests.conftest import file_request

pytestmark = pytest.mark.django_db


def rosas_pothole():  # type: ignore[no-untyped-def]
    rosa = {"reporter_name": "Rosa Resident", "reporter_email": "rosa@example.org", "notify_via": "email"}
    return file_request("pothole", point_from_lonlat(0.5, 0.5), **rosa)


def drop_from_broker(job_id: int) -> int:
    """What a broker restart without persistence does to one message: it is gone from its queue. Only this
    job's messages are removed (the Redis database is shared with other test files)."""
    r = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    dropped = 0
    for key in r.scan_iter("celery*"):
        if r.type(key) != b"list":
            continue
        for raw in r.lrange(key, 0, -1):
            if json.loads(raw).get("headers", {}).get(outbox.HEADER) == job_id:
                dropped += int(r.lrem(key, 0, raw))
    return dropped


def test_a_finished_job_is_done_and_never_published_again(
    two_square_wards, pothole, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rosas_pothole()  # tasks run eagerly here: the acknowledgement is sent as the job is published
    job = OutboxJob.objects.get(task="gis311.send_notification")
    assert job.done_at is not None and job.redeliver_at is None and job.deliveries == 1
    settings.OUTBOX_REDELIVER_SECONDS = 0
    assert relay()["redelivered"] == 0
    assert len(mail.outbox) == 1


def test_a_job_that_will_retry_is_given_until_its_retry_is_due(two_square_wards, pothole, settings):
    """As a worker's task_postrun signal reports it: a retry in 30 s moves the redeliver time past it; a failure
    leaves the job due again; success marks it done."""
    from celery.app.task import Context
    from celery.exceptions import Retry

    settings.OUTBOX_REDELIVER_SECONDS = 600
    job = OutboxJob.objects.create(task="t", published_at=timezone.now(), redeliver_at=timezone.now(), deliveries=1)
    task = type("Task", (), {"request": Context(headers={outbox.HEADER: job.pk})})()
    before = timezone.now()
    outbox._finished(task=task, state="RETRY", retval=Retry(when=30))
    job.refresh_from_db()
    assert before + dt.timedelta(seconds=630) <= job.redeliver_at <= timezone.now() + dt.timedelta(seconds=630)
    assert job.done_at is None
    due = job.redeliver_at
    outbox._finished(task=task, state="FAILURE", retval=RuntimeError("the database went away"))
    job.refresh_from_db()
    assert job.done_at is None and job.redeliver_at == due  # failed: published again when due, not done
    outbox._finished(task=task, state="SUCCESS", retval="sent")
    job.refresh_from_db()
    assert job.done_at is not None and job.redeliver_at is None


def test_the_relay_publishes_a_lost_job_again_until_it_gives_up(monkeypatch, two_square_wards, pothole, settings):
    sent: list[tuple[list[int], dict[str, int]]] = []

    class Broker:  # takes every message and loses it (no worker ever finishes one)
        def apply_async(self, args: list[int], kwargs: dict[str, object], retry: bool, headers: dict) -> None:
            sent.append((args, headers))

    monkeypatch.setattr(outbox, "app", type("App", (), {"tasks": {"t": Broker()}})())
    settings.OUTBOX_REDELIVER_SECONDS, settings.OUTBOX_MAX_DELIVERIES = 0, 3
    job = OutboxJob.objects.create(task="t", args=[7], created_at=timezone.now() - dt.timedelta(minutes=1))
    reports = [relay() for _ in range(4)]
    # Pass one publishes the waiting job; each later pass finds it unfinished past its redeliver time (zero
    # seconds here) and publishes it again, until it has been handed over three times.
    assert [(r["published"], r["redelivered"]) for r in reports] == [(1, 0), (0, 1), (0, 1), (0, 0)]
    assert sent == [([7], {outbox.HEADER: job.pk})] * 3
    assert reports[-1]["given_up"] == 1
    job.refresh_from_db()
    assert job.deliveries == 3 and job.done_at is None


@pytest.mark.django_db(transaction=True)
def test_a_message_the_broker_lost_goes_out_once_through_a_real_worker(two_square_wards, pothole, settings):
    from celery.contrib.testing.worker import start_worker

    from gis_app.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER, settings.OUTBOX_PUBLISH_IN_BACKGROUND = False, False
    settings.OUTBOX_REDELIVER_SECONDS = 0  # due again at once if unfinished
    app.conf.task_always_eager = False
    try:
        rosas_pothole()  # published to Redis; no worker is running yet
        job = OutboxJob.objects.get(task="gis311.send_notification")
        assert job.deliveries == 1 and job.done_at is None
        assert drop_from_broker(job.pk) == 1  # the broker restarted and kept nothing
        settings.OUTBOX_REDELIVER_SECONDS = 600
        assert relay()["redelivered"] == 1
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not OutboxJob.objects.filter(pk=job.pk, done_at__isnull=False):
                time.sleep(0.1)
    finally:
        app.conf.task_always_eager = True
    job.refresh_from_db()
    assert job.done_at is not None and job.deliveries == 2 and job.redeliver_at is None
    assert Notification.objects.get().state == Notification.State.SENT
    assert [m.to for m in mail.outbox] == [["rosa@example.org"]]
    settings.OUTBOX_REDELIVER_SECONDS = 0
    assert relay()["redelivered"] == 0  # done: never again
