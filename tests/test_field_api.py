"""The crew tablet API: device tokens, route pulls with ETags, stop events, photos, and completion flowing
back to the request, its duplicates and its reporters."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from field_api.models import DeviceToken, StopEvent, StopPhoto
from gis_app.choices import Status
from gis_app.models import RequestEvent, ServiceRequest
from gis_app.transitions import apply
from routing.models import RoutePlan, Stop
from routing.planning import plan_day, publish_plan
from tests.conftest import file_request, on_grid

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    """Read at each use, not at import: a run that crosses the city's midnight keeps its dates true."""
    return timezone.localdate()


@pytest.fixture
def bravo_tablet(crews):  # type: ignore[no-untyped-def]
    _, raw = DeviceToken.issue(crews["bravo"], "Bravo tablet")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {raw}")
    return client


def alpha_stops(plan: RoutePlan) -> list[Stop]:
    return list(plan.routes.get(crew__code="crew-alpha").stops.order_by("sequence"))


def event(kind: str, minutes_ago: float = 0, **extra):  # type: ignore[no-untyped-def]
    when = timezone.now() - dt.timedelta(minutes=minutes_ago)
    body = {"id": str(uuid.uuid4()), "kind": kind, "device_time": when.isoformat()}
    if kind == "completed":
        body["note"] = "Filled with cold patch"
    if kind == "could_not_complete":
        body["reason_code"] = "parked_car"
    body.update(extra)
    return body


def jpeg(w: int = 40, h: int = 20, orientation: int | None = None, colour: str = "red") -> io.BytesIO:
    img = Image.new("RGB", (w, h), colour)
    buf = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    img.save(buf, "JPEG", exif=exif.tobytes())
    buf.seek(0)
    buf.name = "photo.jpg"
    return buf


def post_event(client, stop: Stop, body: dict, photos=()):  # type: ignore[no-untyped-def]
    url = f"/api/crew/stops/{stop.pk}/events/"
    if photos:  # multipart: structured fields travel as JSON text, as a tablet sends them
        form = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in body.items()}
        return client.post(url, {**form, "photos": list(photos)}, format="multipart")
    return client.post(url, body, format="json")


# ---- tokens and who sees what ----------------------------------------------------------------------------


def test_a_device_token_is_shown_once_stored_hashed_and_revocable(plan, alpha_tablet, crews):
    token = alpha_tablet.token
    assert token.key_hash and len(token.prefix) == 8
    assert alpha_tablet.get("/api/crew/route/").status_code == 200
    token.refresh_from_db()
    assert token.last_seen_at is not None
    token.revoke()
    resp = alpha_tablet.get("/api/crew/route/")
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]
    assert APIClient().get("/api/crew/route/").status_code in (401, 403)
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Device not-a-real-token")
    assert stranger.get("/api/crew/route/").json()["detail"] == "unknown device token"


def test_crew_alpha_cannot_read_or_touch_crew_bravos_route(plan, alpha_tablet, bravo_tablet):
    bravo_route = plan.routes.get(crew__code="crew-bravo")
    assert alpha_tablet.get(f"/api/crew/routes/{bravo_route.pk}/").status_code == 404
    bravo_stop = bravo_route.stops.first()
    assert post_event(alpha_tablet, bravo_stop, event("started")).status_code == 404
    assert bravo_tablet.get(f"/api/crew/routes/{bravo_route.pk}/").status_code == 200


def test_the_route_has_ordered_stops_geometry_and_no_reporter_contact(
    plan, alpha_tablet, open_work, django_assert_max_num_queries
):
    ServiceRequest.objects.filter(pk=open_work["potholes"][0].pk).update(
        reporter_email="rosa@example.org", reporter_phone="+13125550100", reporter_name="Rosa Parks"
    )
    with django_assert_max_num_queries(8):
        resp = alpha_tablet.get("/api/crew/route/")
    body = resp.json()
    assert [s["sequence"] for s in body["stops"]] == list(range(1, 7))
    assert body["geometry"]["type"] == "LineString" and body["version"] == 1
    text = resp.content.decode()
    assert "rosa@example.org" not in text and "5550100" not in text and "Rosa" not in text
    assert set(body["stops"][0]) >= {
        "ticket",
        "service_type",
        "address",
        "description",
        "attributes",
        "location",
        "eta",
        "window",
        "status",
    }


def test_an_unchanged_route_costs_a_304(plan, alpha_tablet):
    first = alpha_tablet.get("/api/crew/route/")
    again = alpha_tablet.get("/api/crew/route/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    post_event(alpha_tablet, alpha_stops(plan)[0], event("en_route"))
    changed = alpha_tablet.get("/api/crew/route/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed.json()["stops"][0]["status"] == "en_route"


def test_a_day_without_a_route_and_a_bad_date_say_so(plan, alpha_tablet):
    resp = alpha_tablet.get("/api/crew/route/", {"date": "2001-01-01"})
    assert resp.status_code == 404 and "no published route" in resp.json()["detail"]
    assert "YYYY-MM-DD" in alpha_tablet.get("/api/crew/route/", {"date": "monday"}).json()["detail"]


# ---- events ---------------------------------------------------------------------------------------------


def test_each_event_moves_the_stop_and_the_request(plan, alpha_tablet):
    stop = alpha_stops(plan)[0]
    for kind, ago, req_status in [
        ("en_route", 30, Status.ASSIGNED),
        ("arrived", 25, Status.ASSIGNED),
        ("started", 20, Status.IN_PROGRESS),
    ]:
        resp = post_event(alpha_tablet, stop, event(kind, ago))
        assert resp.status_code == 201 and resp.json()["stop_status"] == kind
        assert ServiceRequest.objects.get(pk=stop.request_id).status == req_status
    materials = [{"item": "cold patch", "quantity": 2, "unit": "bag"}]
    resp = post_event(alpha_tablet, stop, event("completed", 5, materials=materials), photos=[jpeg()])
    assert resp.json()["request_status"] == Status.COMPLETED
    done = RequestEvent.objects.get(request=stop.request, verb="complete")
    assert done.new["materials"] == materials and done.new["time_on_site_minutes"] == 20.0
    assert done.note == "Filled with cold patch" and done.actor_label == "crew Crew Alpha"


def test_could_not_complete_puts_the_request_back_in_the_pool_with_the_reason(
    plan, alpha_tablet, django_capture_on_commit_callbacks
):
    stop = alpha_stops(plan)[1]
    from gis_app.models import Subscription

    Subscription.objects.create(request=stop.request, email="rosa@example.org", via="email")
    with django_capture_on_commit_callbacks(execute=True):
        resp = post_event(alpha_tablet, stop, event("could_not_complete", note="silver sedan over it"))
    assert resp.status_code == 201
    req = ServiceRequest.objects.get(pk=stop.request_id)
    assert req.status == Status.OPEN
    assert "Parked car in the way: silver sedan over it" in req.events.get(verb="could_not_complete").note
    assert mail.outbox == []  # the type does not ask to tell the reporter


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"kind": "started"}, "id", "UUID"),
        ({"id": "x", "kind": "started"}, "id", "UUID"),
        ({"kind": "teleported"}, "kind", "kind must be one of"),
        ({"kind": "started", "device_time": "yesterday"}, "device_time", "ISO 8601"),
        ({"kind": "started", "device_time": "2026-01-01T10:00:00"}, "device_time", "UTC offset"),
        ({"kind": "could_not_complete", "reason_code": ""}, "reason_code", "needs reason_code"),
        ({"kind": "completed", "note": ""}, "note", "what was done"),
        ({"kind": "started", "note": "x" * 2001}, "note", "at most 2000"),
        ({"kind": "started", "materials": [{"item": "asphalt", "quantity": -1}]}, "materials", "quantity"),
    ],
)
def test_a_malformed_event_is_refused_saying_what_was_expected(plan, alpha_tablet, body, field, says):
    full = {"id": str(uuid.uuid4()), "device_time": timezone.now().isoformat(), **body}
    if body.get("id") is None and field == "id":
        full.pop("id")
    resp = post_event(alpha_tablet, alpha_stops(plan)[0], full)
    assert resp.status_code == 400 and resp.json()["field"] == field and says in resp.json()["detail"]
    assert StopEvent.objects.count() == 0


def test_a_device_clock_in_the_future_is_refused(plan, alpha_tablet):
    resp = post_event(alpha_tablet, alpha_stops(plan)[0], event("started", -60))
    assert resp.status_code == 400 and "device clock" in resp.json()["detail"]


def test_replaying_an_event_is_a_no_op_that_returns_the_first_answer(plan, alpha_tablet):
    stop = alpha_stops(plan)[0]
    body = event("started", 10)
    first = post_event(alpha_tablet, stop, body)
    again = post_event(alpha_tablet, stop, body)
    assert first.status_code == 201 and again.status_code == 200
    assert {k: v for k, v in again.json().items() if k != "replayed"} == first.json()
    assert StopEvent.objects.count() == 1
    assert RequestEvent.objects.filter(request=stop.request, verb="start").count() == 1
    reused = post_event(alpha_tablet, stop, {**body, "kind": "arrived"})
    assert reused.status_code == 409 and "already used" in reused.json()["detail"]


def test_events_out_of_order_are_applied_by_device_time(plan, alpha_tablet):
    stop = alpha_stops(plan)[0]
    post_event(alpha_tablet, stop, event("completed", 5), photos=[jpeg()])
    late_start = post_event(alpha_tablet, stop, event("started", 30)).json()
    assert late_start["outcome"] == "applied" and late_start["stop_status"] == "completed"
    assert RequestEvent.objects.filter(request=stop.request, verb="complete").count() == 1


def test_a_conflicting_late_event_is_recorded_and_reported(plan, alpha_tablet):
    stop = alpha_stops(plan)[0]
    cnc = event("could_not_complete", 2)
    post_event(alpha_tablet, stop, cnc)
    assert ServiceRequest.objects.get(pk=stop.request_id).status == Status.OPEN
    # The completion happened earlier on another device that was offline: it wins, the later report conflicts.
    done = post_event(alpha_tablet, stop, event("completed", 10), photos=[jpeg()]).json()
    assert done["stop_status"] == "completed" and done["superseded"] == [cnc["id"]]
    assert StopEvent.objects.get(pk=cnc["id"]).outcome == "conflict"
    after = post_event(alpha_tablet, stop, event("could_not_complete", 1)).json()
    assert after["outcome"] == "conflict" and "already completed" in after["detail"]
    assert ServiceRequest.objects.get(pk=stop.request_id).status == Status.COMPLETED
    assert StopEvent.objects.filter(request=stop.request).count() == 3


# ---- photos ---------------------------------------------------------------------------------------------


def test_photos_are_turned_upright_stored_as_jpeg_with_a_thumbnail(plan, alpha_tablet):
    stop = alpha_stops(plan)[0]
    png = io.BytesIO()
    Image.new("RGB", (500, 500), "blue").save(png, "PNG")
    png.seek(0)
    png.name = "before.png"
    post_event(alpha_tablet, stop, event("arrived", 3, photo_stage="before"), photos=[png])
    post_event(alpha_tablet, stop, event("completed", 1), photos=[jpeg(40, 20, orientation=6)])
    before, after = StopPhoto.objects.order_by("event__device_time")
    assert (before.stage, before.original_type) == ("before", "PNG")
    assert (after.stage, after.width, after.height) == ("after", 20, 40)  # EXIF rotation applied
    with Image.open(after.image.path) as img:
        assert img.format == "JPEG" and img.size == (20, 40)
    with Image.open(before.thumbnail.path) as thumb:
        assert max(thumb.size) <= 320


def test_a_route_pull_lists_a_stops_photos_once_it_has_one(plan, alpha_tablet):
    """The pull skips the photo lookup on a day without photos; the first photo changes the ETag and shows."""
    stop = alpha_stops(plan)[0]
    first = alpha_tablet.get("/api/crew/route/")
    assert all(s["photos"] == [] for s in first.json()["stops"])
    post_event(alpha_tablet, stop, event("arrived", 3, photo_stage="before"), photos=[jpeg(40, 20)])
    second = alpha_tablet.get("/api/crew/route/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200 and second["ETag"] != first["ETag"]
    shown = next(s for s in second.json()["stops"] if s["id"] == stop.pk)
    assert [p["stage"] for p in shown["photos"]] == ["before"] and shown["photos"][0]["thumbnail"]


def test_bad_photos_are_refused_and_nothing_is_stored(plan, alpha_tablet, settings):
    stop = alpha_stops(plan)[0]
    text = io.BytesIO(b"not an image at all")
    text.name = "notes.txt"
    resp = post_event(alpha_tablet, stop, event("arrived"), photos=[text])
    assert resp.status_code == 400 and "JPEG, PNG or HEIC" in resp.json()["detail"]
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    gif.seek(0)
    gif.name = "a.gif"
    refused = post_event(alpha_tablet, stop, event("arrived"), photos=[gif]).json()["detail"]
    assert "GIF images are not accepted" in refused
    six = post_event(alpha_tablet, stop, event("arrived"), photos=[jpeg() for _ in range(6)])
    assert "at most 5 photos" in six.json()["detail"]
    big = io.BytesIO(b"\xff\xd8" + b"0" * (10 * 1024 * 1024 + 1))
    big.name = "huge.jpg"
    assert "over the 10 MB limit" in post_event(alpha_tablet, stop, event("arrived"), photos=[big]).json()["detail"]
    assert StopEvent.objects.count() == 0 and StopPhoto.objects.count() == 0


def test_a_type_that_needs_photo_proof_refuses_completion_without_one(plan, alpha_tablet):
    stop = alpha_stops(plan)[0]  # potholes require a photo
    resp = post_event(alpha_tablet, stop, event("completed"))
    assert resp.status_code == 400 and "needs a photo as proof" in resp.json()["detail"]
    assert ServiceRequest.objects.get(pk=stop.request_id).status == Status.ASSIGNED


# ---- completion flows back --------------------------------------------------------------------------------


def test_completion_closes_duplicates_and_tells_each_reporter_once(
    plan, alpha_tablet, sms_folder, django_capture_on_commit_callbacks
):
    stop = alpha_stops(plan)[0]
    parent = ServiceRequest.objects.get(pk=stop.request_id)
    from gis_app.models import Subscription

    Subscription.objects.create(request=parent, email="rosa@example.org", via="email")
    dup = file_request("pothole", parent.location, reporter_phone="+13125550100", notify_via="sms")
    same_person_again = file_request("pothole", parent.location, reporter_email="rosa@example.org", notify_via="email")
    apply(dup, "mark_duplicate", parent=parent, actor_label="test")
    apply(same_person_again, "mark_duplicate", parent=parent, actor_label="test")
    mail.outbox.clear()
    for f in sms_folder.glob("*.txt"):
        f.unlink()
    with django_capture_on_commit_callbacks(execute=True):
        post_event(alpha_tablet, stop, event("completed"), photos=[jpeg()])
    completion = [m for m in mail.outbox if "completed" in m.subject]
    assert [m.to for m in completion] == [["rosa@example.org"]]
    assert completion[0].attachments and completion[0].attachments[0][2] == "image/jpeg"
    texts = [f.read_text() for f in sms_folder.glob("*.txt")]
    assert len([t for t in texts if "was completed" in t]) == 1 and "Photo:" in texts[0]
    for child in (dup, same_person_again):
        assert child.events.filter(verb="parent_completed").exists()


def test_an_open_linked_duplicate_is_completed_with_its_parent(plan, alpha_tablet):
    stop = alpha_stops(plan)[0]
    child = file_request("pothole", on_grid(0, 1.5))
    ServiceRequest.objects.filter(pk=child.pk).update(parent=stop.request)  # linked by an import, still open
    post_event(alpha_tablet, stop, event("completed"), photos=[jpeg()])
    child.refresh_from_db()
    assert child.status == Status.COMPLETED and stop.request.ticket in child.closure_reason


def test_not_fixed_on_the_survey_creates_a_follow_up(plan, alpha_tablet, client, django_capture_on_commit_callbacks):
    stop = alpha_stops(plan)[0]
    from gis_app.models import Subscription

    Subscription.objects.create(request=stop.request, email="rosa@example.org", via="email")
    with django_capture_on_commit_callbacks(execute=True):
        post_event(alpha_tablet, stop, event("completed"), photos=[jpeg()])
    (message,) = [m for m in mail.outbox if "completed" in m.subject]
    survey = next(w for w in message.body.split() if "/survey/" in w)
    path = survey[survey.index("/survey/") :]
    client.post(path, {"fixed": "no"})
    follow = ServiceRequest.objects.get(follow_up_of=stop.request)
    assert follow.status == Status.OPEN


def test_a_supervisor_reopens_a_completed_stop_with_a_reason(plan, alpha_tablet, dispatcher, crew_alpha):
    stop = alpha_stops(plan)[0]
    post_event(alpha_tablet, stop, event("completed", 5), photos=[jpeg()])
    boss = APIClient()
    boss.force_authenticate(dispatcher)
    url = f"/api/dispatch/stops/{stop.pk}/reopen/"
    assert boss.post(url, {}, format="json").status_code == 400
    resp = boss.post(url, {"reason": "patch failed inspection"}, format="json")
    assert resp.status_code == 201 and resp.json()["stop_status"] == "planned"
    req = ServiceRequest.objects.get(pk=stop.request_id)
    assert req.status == Status.ASSIGNED  # reopened, and still on the crew's route to be done again
    assert list(req.events.filter(verb__in=["reopen", "assign"]).values_list("verb", flat=True))[-2:] == [
        "reopen",
        "assign",
    ]
    reopen = req.events.get(verb="reopen")
    assert reopen.note == "patch failed inspection" and reopen.actor == dispatcher
    assert boss.post(url, {"reason": "again"}, format="json").status_code == 409
    crew_user = APIClient()
    crew_user.force_authenticate(crew_alpha)
    assert crew_user.post(url, {"reason": "x"}, format="json").status_code == 403
    # After the reopen the crew can complete it again.
    again = post_event(alpha_tablet, stop, event("completed", 0), photos=[jpeg()]).json()
    assert again["stop_status"] == "completed" and again["request_status"] == Status.COMPLETED


# ---- route changes ----------------------------------------------------------------------------------------


def test_a_re_plan_shows_what_changed_and_late_work_on_a_moved_stop_is_flagged(
    plan, alpha_tablet, streets_dept, crews, dispatcher
):
    first = alpha_tablet.get("/api/crew/route/").json()
    moved_stop = alpha_stops(plan)[-1]
    crews["bravo"].skills = ["electrical", "paving"]
    crews["bravo"].save()
    six_am = dt.datetime.combine(today(), dt.time(6), tzinfo=timezone.get_current_timezone())  # before the shifts
    pins = {moved_stop.request.ticket: "crew-bravo"}
    draft = plan_day(today(), streets_dept, time_limit=0.25, now=six_am, pins=pins).plan
    publish_plan(draft, by=dispatcher)
    second = alpha_tablet.get("/api/crew/route/").json()
    assert second["route"] != first["route"]
    assert second["version"] == 2 and moved_stop.request.ticket in second["changes"]["removed"]
    # The alpha tablet was offline and works the old stop anyway: recorded, and the dispatcher is told.
    resp = post_event(alpha_tablet, moved_stop, event("started")).json()
    assert "now on Crew Bravo's route" in resp["detail"]
    new_stop = Stop.objects.get(route__plan=draft, request=moved_stop.request)
    assert new_stop.status == "started" and "Crew Alpha reported started" in new_stop.flags[0]
    page = Client()
    page.force_login(dispatcher)
    html = page.get(f"/dispatch/?date={today()}&department={streets_dept.code}&plan={draft.pk}").content.decode()
    assert "Crew Alpha reported started" in html


def test_a_crew_reaches_the_reporter_only_by_a_logged_action(plan, alpha_tablet, bravo_tablet):
    stop = alpha_stops(plan)[0]
    ServiceRequest.objects.filter(pk=stop.request_id).update(
        reporter_name="Rosa", reporter_phone="312-555-0100", description="Call me at 312-555-0100"
    )
    route = alpha_tablet.get("/api/crew/route/").json()
    assert "312-555-0100" not in str(route)  # the route masks it
    url = f"/api/crew/stops/{stop.pk}/contact/"
    assert alpha_tablet.post(url, {}, format="json").json()["field"] == "reason"
    assert bravo_tablet.post(url, {"reason": "gate locked"}, format="json").status_code == 404  # not bravo's stop
    got = alpha_tablet.post(url, {"reason": "gate locked"}, format="json")
    assert got.status_code == 200 and got.json()["phone"] == "312-555-0100" and got["Cache-Control"] == "no-store"
    (look,) = RequestEvent.objects.filter(request_id=stop.request_id, verb="contact_viewed")
    assert look.note == "gate locked" and look.actor_label == "crew Crew Alpha" and not look.public
