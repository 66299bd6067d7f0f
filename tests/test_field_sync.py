"""Sync torture: a day's stop events sent in random order, duplicated, from several devices, some after the
crew's shift, concurrently. The server's final state must equal an independent reference fold, and no
event may be lost or doubled."""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from field_api.models import DeviceToken, StopEvent
from gis_app.choices import Status
from gis_app.models import RequestEvent, ServiceRequest
from routing.models import Stop
from routing.planning import plan_day
from tests.conftest import file_request, on_grid

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.heavy]

EVENTS = 10_000
DEVICES_PER_CREW = 2
BATCH = 100
KINDS = ["en_route", "arrived", "started", "completed", "could_not_complete"]
# Crews mostly move forward through a stop; completion and could-not-complete are rarer.
WEIGHTS = [0.24, 0.24, 0.24, 0.08, 0.2]


def reference_fold(events: list[tuple[dt.datetime, int, str]]) -> tuple[str, dict[int, str]]:
    """Written from the rule, not from the server: apply each event once in device-time order, ties broken by
    server receipt; completed is final (no supervisor reopens in this stream)."""
    state, outcomes = "planned", {}
    for _when, receipt, kind in sorted(events):
        if state == "completed":
            outcomes[receipt] = "conflict"
        else:
            state, outcomes[receipt] = kind, "applied"
    return state, outcomes


@pytest.fixture
def busy_day(street_grid, pothole, streetlight, crews, streets_dept, settings, tmp_path):  # type: ignore[no-untyped-def]
    """Yesterday's published plan with 30 stops on two crews (no photo needed, so any completion is valid)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SMS_BACKEND = "gis_app.notifications.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    pothole.completion_requires_photo = False
    pothole.required_skill = "paving"
    pothole.save()
    rng = random.Random(7)
    for n in range(30):
        i, j = rng.randrange(5), rng.randrange(4) + 0.5
        file_request(
            "pothole" if n % 2 else "light",
            on_grid(i, j),
            reporter_email=f"resident{n}@example.org",
            notify_via="email",
        )
    day = timezone.localdate() - dt.timedelta(days=1)
    six = dt.datetime.combine(day, dt.time(6), tzinfo=ZoneInfo(settings.TIME_ZONE))
    plan = plan_day(day, streets_dept, time_limit=1, now=six, publish=True).plan
    assert plan.stats["jobs_planned"] == 30
    return plan


def test_ten_thousand_shuffled_duplicated_events_end_where_the_reference_fold_does(busy_day, crews):
    day = busy_day.service_date
    tz = ZoneInfo(settings.TIME_ZONE)
    rng = random.Random(2026)
    stops = list(Stop.objects.filter(route__plan=busy_day).select_related("route__crew"))
    tokens: dict[int, list[str]] = defaultdict(list)
    for crew in crews.values():
        for n in range(DEVICES_PER_CREW):
            tokens[crew.pk].append(DeviceToken.issue(crew, f"{crew.code} tablet {n}")[1])
    shift_start = dt.datetime.combine(day, dt.time(7), tzinfo=tz)
    shift_end = dt.datetime.combine(day, dt.time(15, 30), tzinfo=tz)
    latest = min(timezone.now(), shift_end + dt.timedelta(hours=6))  # some events land after the shift
    span = int((latest - shift_start).total_seconds())
    events = []
    for _ in range(EVENTS):
        stop = rng.choice(stops)
        kind = rng.choices(KINDS, WEIGHTS)[0]
        when = shift_start + dt.timedelta(seconds=rng.randrange(span))  # whole seconds: some device times tie
        body = {"id": str(uuid.uuid4()), "kind": kind, "device_time": when.isoformat()}
        if kind == "completed":
            body["note"] = "done"
        if kind == "could_not_complete":
            body["reason_code"] = rng.choice(["no_access", "parked_car", "not_found"])
        events.append((stop, rng.choice(tokens[stop.route.crew_id]), body))
    after_shift = sum(dt.datetime.fromisoformat(b["device_time"]) > shift_end for _, _, b in events)
    assert after_shift > 0
    stream = [e for e in events for _ in range(rng.randint(1, 3))]
    rng.shuffle(stream)

    answers: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    failures: list[str] = []
    lock = threading.Lock()

    def send(token: str, part: list) -> None:
        """One device flushing its queue: mostly in batches, every tenth event on its own."""
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Device {token}")

        def record(replies: list[dict]) -> None:
            with lock:
                for reply in replies:
                    if reply["status"] not in (200, 201):
                        failures.append(str(reply)[:200])
                    else:
                        answers[reply["id"]].append((reply["status"], reply))

        def flush(batch: list[dict]) -> None:
            replies = client.post("/api/crew/events/", {"events": batch}, format="json").json()["results"]
            record(replies)

        try:
            batch: list[dict] = []
            for n, (stop, _, body) in enumerate(part):
                if n % 10 == 0:
                    resp = client.post(f"/api/crew/stops/{stop.pk}/events/", body, format="json")
                    record([{"status": resp.status_code, "id": body["id"], **resp.json()}])
                    continue
                batch.append({"stop": stop.pk, **body})
                if len(batch) == BATCH:
                    flush(batch)
                    batch = []
            if batch:
                flush(batch)
        except Exception as exc:  # a thread that dies must fail the test, not vanish
            with lock:
                failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    by_device: dict[str, list] = defaultdict(list)
    for item in stream:
        by_device[item[1]].append(item)
    threads = [threading.Thread(target=send, args=(token, part)) for token, part in by_device.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []

    # Nothing lost, nothing doubled; each replay answered with the first answer.
    assert StopEvent.objects.count() == len(events)
    assert set(answers) == {b["id"] for _, _, b in events}
    for replies in answers.values():
        assert sorted(code for code, _ in replies).count(201) == 1
        bodies = [{k: v for k, v in body.items() if k not in ("replayed", "status", "id")} for _, body in replies]
        first = next(body for (code, _), body in zip(replies, bodies, strict=True) if code == 201)
        assert all(b == first for b in bodies)

    # The final state equals the reference fold, request by request.
    by_request: dict[int, list[tuple[dt.datetime, int, str]]] = defaultdict(list)
    stored = {str(e.pk): e for e in StopEvent.objects.all()}
    for stop, _, body in events:
        row = stored[body["id"]]
        by_request[stop.request_id].append((dt.datetime.fromisoformat(body["device_time"]), row.seq, body["kind"]))
    final = {s.request_id: s for s in Stop.objects.filter(route__plan=busy_day)}
    outcome_mismatch = 0
    for request_id, evs in by_request.items():
        expected, outcomes = reference_fold(evs)
        assert final[request_id].status == expected, request_id
        outcome_mismatch += sum(
            stored_row.outcome != outcomes[stored_row.seq]
            for stored_row in StopEvent.objects.filter(request_id=request_id)
        )
        req = ServiceRequest.objects.get(pk=request_id)
        if expected == "completed":
            assert req.status == Status.COMPLETED
        elif expected == "could_not_complete":
            assert req.status == Status.OPEN
        else:
            assert req.status in (Status.ASSIGNED, Status.IN_PROGRESS)
        assert RequestEvent.objects.filter(request_id=request_id, verb="complete").count() == (
            1 if expected == "completed" else 0
        )
    assert outcome_mismatch == 0
    assert Counter(s.status for s in final.values())["completed"] > 0
