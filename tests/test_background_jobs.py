"""Residents and departments hear back: acknowledgements, completion with a survey, SLA alerts once,
escalation once, retries without duplicates, signed webhooks, and a real Celery worker on Redis."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import time

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from gis_app.intake import IntakeData, create_request
from gis_app.models import Notification, RequestEvent, ServiceRequest, SlaAlert, WebhookDelivery, WebhookEndpoint
from gis_app.notifications import DeliveryError, deliver, queue, survey_token
from gis_app.sla_alerts import run_sla_checks
from gis_app.transitions import apply
from gis_app.webhooks import SIGNATURE_HEADER, WebhookError, verify
from gis_app.webhooks import deliver as deliver_webhook
from layers.coords import point_from_lonlat

pytestmark = pytest.mark.django_db


def file_pothole(**extra):  # type: ignore[no-untyped-def]
    data = dict(
        service_code="pothole",
        location=point_from_lonlat(0.5, 0.5),
        attributes={"where": "curb"},
        reporter_name="Rosa Resident",
        reporter_email="rosa@example.org",
        notify_via="email",
    )
    data.update(extra)
    return create_request(IntakeData(**data), actor_label="test")


def test_the_reporter_gets_an_acknowledgement_with_ticket_and_date(
    two_square_wards, pothole, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        req = file_pothole()
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert req.ticket in msg.subject and req.ticket in msg.body and "Expected by" in msg.body
    assert Notification.objects.get(request=req).state == Notification.State.SENT


def test_completion_reaches_the_reporter_and_duplicates_reporters_with_a_survey(
    two_square_wards, pothole, django_capture_on_commit_callbacks
):
    parent = file_pothole()
    child = file_pothole(reporter_email="sam@example.org", reporter_name="Sam")
    apply(child, "mark_duplicate", parent=parent)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        apply(parent, "complete", note="patched with hot asphalt", photos=1)
    assert sorted(m.to[0] for m in mail.outbox) == ["rosa@example.org", "sam@example.org"]
    assert all("/survey/" in m.body and "patched with hot asphalt" in m.body for m in mail.outbox)


class FlakySms:
    calls = 0

    def send(self, to: str, body: str, *, key: str) -> None:
        FlakySms.calls += 1
        if FlakySms.calls == 1:
            raise ConnectionError("SMS gateway down")


@override_settings(SMS_BACKEND="tests.test_background_jobs.FlakySms")
def test_a_failing_backend_is_retried_and_the_message_never_goes_twice(two_square_wards, pothole):
    FlakySms.calls = 0
    req = file_pothole(reporter_phone="+13125550100", notify_via="sms")
    note = Notification.objects.get(request=req)
    with pytest.raises(DeliveryError, match="SMS gateway down"):
        deliver(note.pk)
    assert deliver(note.pk) == "sent"
    assert deliver(note.pk) == "skipped"  # a replayed job sends nothing
    assert FlakySms.calls == 2
    assert (
        queue(req, kind="acknowledgement", key=note.idempotency_key, channel="sms", to="+1", subject="s", body="b")
        is None
    )
    note.refresh_from_db()
    assert (note.state, note.attempts) == (Notification.State.SENT, 2)


def test_a_text_sent_again_after_a_crash_is_one_message_at_the_gateway(two_square_wards, pothole, sms_folder):
    # The worker died after the gateway took the text and before the row said "sent": the job runs again and
    # hands the gateway the same idempotency key, which a gateway (here the file backend) takes as one message.
    req = file_pothole(reporter_phone="+13125550100", notify_via="sms")
    note = Notification.objects.get(request=req)
    assert deliver(note.pk) == "sent"
    Notification.objects.filter(pk=note.pk).update(state=Notification.State.PENDING, sent_at=None)
    assert deliver(note.pk) == "sent"
    texts = [f.read_text() for f in sms_folder.glob("*.txt")]
    assert len(texts) == 1 and req.ticket in texts[0] and texts[0].startswith("To: +13125550100")


def test_the_sla_job_alerts_once_and_escalates_once_across_two_runs(two_square_wards, pothole):
    late = file_pothole()
    ServiceRequest.objects.filter(pk=late.pk).update(due_at=timezone.now() - dt.timedelta(hours=1))
    soon = file_pothole()
    ServiceRequest.objects.filter(pk=soon.pk).update(due_at=timezone.now() + dt.timedelta(hours=1))
    first = run_sla_checks()
    second = run_sla_checks()
    assert (first.breached, first.escalated, first.due_soon) == ([late.ticket], [late.ticket], [soon.ticket])
    assert (second.breached, second.escalated, second.due_soon) == ([], [], [])
    assert SlaAlert.objects.filter(request=late).count() == 2
    keys = set(Notification.objects.filter(kind__startswith="sla").values_list("to", "kind"))
    assert keys == {
        ("streets@city.test", "sla:breached"),
        ("boss@city.test", "sla:escalated"),
        ("streets@city.test", "sla:due_soon"),
    }
    assert RequestEvent.objects.filter(request=late, verb="escalated", public=False).count() == 1


def test_the_survey_no_reopens_as_a_linked_follow_up(client, two_square_wards, pothole):
    req = apply(file_pothole(), "complete", note="patched", photos=1)
    url = f"/survey/{survey_token(req, req.events.get(verb='complete'))}/"
    assert client.get(url).status_code == 200
    page = client.post(url, {"fixed": "no"})
    follow = ServiceRequest.objects.get(follow_up_of=req)
    assert follow.ticket in page.content.decode()
    assert client.post(url, {"fixed": "no"}).status_code == 410  # a link works once: nothing more is opened
    assert ServiceRequest.objects.filter(follow_up_of=req).count() == 1
    assert client.get("/survey/forged-token/").status_code == 400


def test_track_my_ticket_shows_progress_and_no_personal_data(client, two_square_wards, pothole):
    req = file_pothole(description="My name is Rosa, call 312-555-0100")
    html = client.get(f"/track/{req.ticket}/").content.decode()
    assert req.ticket in html and "Pothole in street" in html and "Received" in html
    for private in ("Rosa", "rosa@example.org", "312-555-0100"):
        assert private not in html
    typo = req.ticket[:-1] + ("2" if req.ticket[-1] != "2" else "3")
    bad = client.get("/track/", {"ticket": typo})
    assert bad.status_code == 400 and "does not check out" in bad.content.decode()


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []
    fail_first = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((body, self.headers[SIGNATURE_HEADER]))
        status = 500 if Receiver.fail_first and len(Receiver.received) == 1 else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    Receiver.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def test_webhooks_are_signed_and_retried_until_delivered(two_square_wards, pothole, streets_dept, receiver):
    WebhookEndpoint.objects.create(department=streets_dept, url=receiver, secret="s3cret")
    req = file_pothole()
    delivery = WebhookDelivery.objects.filter(event__request=req, event__verb="received").get()
    with pytest.raises(WebhookError, match="HTTP 500"):
        deliver_webhook(delivery.pk)
    assert deliver_webhook(delivery.pk) == "delivered"
    assert deliver_webhook(delivery.pk) == "skipped"
    body, signature = Receiver.received[-1]
    assert verify("s3cret", body, signature)
    assert not verify("wrong", body, signature)
    assert b"rosa@example.org" not in body


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_the_acknowledgement_through_redis(two_square_wards, pothole):
    from celery.contrib.testing.worker import start_worker

    from gis_app.celery import app

    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            req = file_pothole()  # committed: on_commit hands the job to Redis
            note = Notification.objects.get(request=req)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                note.refresh_from_db()
                if note.state == Notification.State.SENT:
                    break
                time.sleep(0.1)
            assert note.state == Notification.State.SENT
    finally:
        app.conf.task_always_eager = True


@pytest.mark.django_db(transaction=True)
def test_the_web_process_publishes_from_its_own_thread_and_every_message_goes_once(two_square_wards, pothole, settings):
    """As in production: tasks are not eager, so the request hands its committed job to the process's publisher
    thread and returns; the thread publishes and marks the jobs; a real worker sends each message once."""
    from celery.contrib.testing.worker import start_worker

    from gis_app import outbox
    from gis_app.celery import app
    from gis_app.outbox import OutboxJob

    settings.CELERY_TASK_ALWAYS_EAGER, settings.OUTBOX_PUBLISH_IN_BACKGROUND = False, True
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            filed = [file_pothole(reporter_email=f"resident{i}@example.org") for i in range(6)]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and Notification.objects.exclude(state="sent").exists():
                time.sleep(0.1)
    finally:
        app.conf.task_always_eager = True
        assert outbox.drain()  # the thread's connection closed: the test database can go
    assert Notification.objects.filter(state="sent").count() == len(filed)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"resident{i}@example.org" for i in range(6))
    jobs = OutboxJob.objects.all()
    assert len(jobs) == 6 and all(j.published_at is not None and j.attempts == 1 for j in jobs)


def test_a_batch_stops_at_the_first_refusal_and_the_rest_wait_with_the_error(monkeypatch, two_square_wards, pothole):
    """Batch publishing: the broker takes the first job and refuses the second; the first is marked published,
    the second and third keep the error and wait for the relay (never marked published unsent)."""
    from gis_app import outbox

    sent: list[list[int]] = []

    class Broker:
        def apply_async(self, args: list[int], kwargs: dict[str, object], retry: bool, headers: dict) -> None:
            if sent:
                raise ConnectionError("the broker went away")
            sent.append(args)

    monkeypatch.setattr(outbox, "app", type("App", (), {"tasks": {"t": Broker()}})())
    jobs = [outbox.OutboxJob.objects.create(task="t", args=[n]) for n in (1, 2, 3)]
    assert outbox.publish_batch(jobs) == 1 and sent == [[1]]
    first, *rest = outbox.OutboxJob.objects.order_by("pk")
    assert first.published_at is not None and first.attempts == 1
    assert all(j.published_at is None and j.attempts == 1 and "went away" in j.last_error for j in rest)


def test_stage_notices_go_out_only_for_the_stages_a_type_asks_for(
    two_square_wards, pothole, django_capture_on_commit_callbacks
):
    pothole.notify_stages = ["assign"]
    pothole.save()
    req = file_pothole()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assigned = apply(req, "assign")
        apply(assigned, "start")
    assert len(mail.outbox) == 1 and "Assigned" in mail.outbox[0].body


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_sla_job(two_square_wards, pothole):
    from celery.contrib.testing.worker import start_worker

    from gis_app.celery import app
    from gis_app.sla_alerts import check_slas

    late = file_pothole()
    ServiceRequest.objects.filter(pk=late.pk).update(due_at=timezone.now() - dt.timedelta(minutes=5))
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            check_slas.delay()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and SlaAlert.objects.filter(request=late).count() < 2:
                time.sleep(0.1)
    finally:
        app.conf.task_always_eager = True
    assert set(SlaAlert.objects.filter(request=late).values_list("level", flat=True)) == {"breached", "escalated"}


def test_the_map_feed_shows_open_requests_without_personal_data(client, two_square_wards, pothole):
    req = file_pothole(description="Rosa's front door")
    body = client.get("/requests/open.geojson", {"bbox": "0,0,1,1"}).json()
    assert [f["properties"]["ticket"] for f in body["features"]] == [req.ticket]
    assert "Rosa" not in str(body) and "rosa@example.org" not in str(body)
    assert client.get("/requests/open.geojson", {"bbox": "1,0,2,1"}).json()["features"] == []
    assert client.get("/requests/open.geojson", {"bbox": "x"}).status_code == 400


def test_a_message_sent_again_carries_the_same_message_id(two_square_wards, pothole):
    """The last line of defence against a second send after a crash: the receiving side can tell it is one."""
    req = file_pothole()
    note = Notification.objects.get(request=req)
    deliver(note.pk)
    Notification.objects.filter(pk=note.pk).update(state=Notification.State.PENDING)  # as if the mark was lost
    deliver(note.pk)
    first, second = mail.outbox[-2:]
    assert first.extra_headers["Message-ID"] == second.extra_headers["Message-ID"]
    assert first.extra_headers["Message-ID"].endswith("@city.example>")
