"""What the crew tablet page needs from the API (issue 19): one-time sign-in links, the route's map, the best
address on every stop, photo links that answer, callers counted, and events held to their stop's day.
Actors: Crew Alpha's tablet, Dana the dispatcher, Mallory with an old link."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from field_api.models import DeviceSignIn, DeviceToken
from gis_app.transitions import apply
from routing.planning import plan_day
from tests.conftest import file_request
from tests.test_field_api import alpha_stops, event, jpeg, post_event

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    """Read at each use, not at import: a run that crosses the city's midnight keeps its dates true."""
    return timezone.localdate()


def test_a_sign_in_link_gives_a_device_token_once(crews):
    link, raw = DeviceSignIn.issue(crews["alpha"], "Truck 14 tablet")
    first = APIClient().post("/api/crew/sign-in/", {"code": raw}, format="json")
    assert first.status_code == 201 and first.json()["crew"]["name"] == crews["alpha"].name
    tablet = APIClient()
    tablet.credentials(HTTP_AUTHORIZATION=f"Device {first.json()['token']}")
    assert tablet.get("/api/crew/route/").status_code == 404  # signed in: no route yet, not a 401
    again = APIClient().post("/api/crew/sign-in/", {"code": raw}, format="json")
    assert again.status_code == 410 and "already used" in again.json()["detail"]
    link.refresh_from_db()
    assert link.used_at is not None and link.token is not None and raw not in link.key_hash


def test_an_expired_or_unknown_link_is_refused_with_what_to_do(crews):
    _, raw = DeviceSignIn.issue(crews["alpha"], "Old tablet", hours=-1)
    expired = APIClient().post("/api/crew/sign-in/", {"code": raw}, format="json")
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]
    unknown = APIClient().post("/api/crew/sign-in/", {"code": "x" * 32}, format="json")
    assert unknown.status_code == 404 and "ask the office" in unknown.json()["detail"]
    assert APIClient().post("/api/crew/sign-in/", {}, format="json").status_code == 400
    assert DeviceToken.objects.count() == 0


def test_a_revoked_tablet_is_told_it_was_signed_out(plan, crews):
    _, raw = DeviceSignIn.issue(crews["alpha"], "Lost tablet")
    token = APIClient().post("/api/crew/sign-in/", {"code": raw}, format="json").json()["token"]
    DeviceToken.objects.get(name="Lost tablet").revoke()
    tablet = APIClient()
    tablet.credentials(HTTP_AUTHORIZATION=f"Device {token}")
    resp = tablet.get("/api/crew/route/")
    assert resp.status_code == 401 and "revoked" in resp.json()["detail"]


def test_a_dispatcher_makes_a_sign_in_qr_code_for_a_crew(dispatcher, crews):
    office = Client()
    office.force_login(dispatcher)
    page = office.post("/field/links/", {"crew": "crew-alpha", "name": "Truck 14 tablet"})
    assert page.status_code == 200 and b"<svg" in page.content
    link = re.search(r'id="sign-in-link" href="([^"]+)"', page.content.decode())
    assert link and "/field/#signin=" in link.group(1)
    assert DeviceSignIn.objects.get().crew == crews["alpha"]
    assert office.post("/field/links/", {"crew": "nobody"}).status_code == 400


def test_a_clerk_cannot_make_sign_in_links(intake_clerk):
    clerk = Client()
    clerk.force_login(intake_clerk)
    assert clerk.get("/field/links/").status_code == 403


def test_the_route_map_carries_the_streets_along_the_route_and_the_wards(plan, alpha_tablet):
    route = alpha_tablet.get("/api/crew/route/").json()
    area = alpha_tablet.get(f"/api/crew/routes/{route['route']}/map/")
    assert area.status_code == 200
    body = area.json()
    names = {f["properties"]["name"] for f in body["streets"]["features"]}
    # One feature per street, each under its own name (the grid's corners stay corners: no "Row 0/Col 0").
    assert names == {f"Row {i}" for i in range(5)} | {f"Col {i}" for i in range(5)}
    # The wards the route's area touches (the whole route lies in ward 1, tens of kilometres from ward 2).
    assert {str(f["properties"]["number"]) for f in body["wards"]["features"]} == {"1"}
    assert body["streets"]["networks"][0]["attribution"]  # ODbL: the attribution travels with the streets


def test_another_crews_route_map_is_a_404(plan, crews):
    _, raw = DeviceToken.issue(crews["bravo"], "Bravo tablet")
    bravo = APIClient()
    bravo.credentials(HTTP_AUTHORIZATION=f"Device {raw}")
    alpha_route = plan.routes.get(crew__code="crew-alpha").pk
    assert bravo.get(f"/api/crew/routes/{alpha_route}/map/").status_code == 404


def test_every_stop_carries_the_best_address_there_is(plan, alpha_tablet):
    stops = alpha_tablet.get("/api/crew/route/").json()["stops"]
    assert {s["address_source"] for s in stops} <= {"reported", "nearest"}
    assert all(s["address"] for s in stops)  # none of the fixture's requests had an address typed in
    assert {s["address_source"] for s in stops} == {"nearest"}


def test_photo_links_in_the_route_answer_with_the_photo(plan, alpha_tablet):
    stop = alpha_stops(plan)[0]
    post_event(alpha_tablet, stop, event("completed"), photos=[jpeg()])
    photo = alpha_tablet.get("/api/crew/route/").json()["stops"][0]["photos"][0]
    for link in (photo["url"], photo["thumbnail"]):
        got = Client().get(link)
        assert got.status_code == 200 and got["Content-Type"] == "image/jpeg"
        assert b"".join(got.streaming_content)[:2] == b"\xff\xd8"
    tampered = photo["url"].rstrip("/")[:-3] + "abc/"
    assert Client().get(tampered).status_code == 404


def test_a_completed_issue_counts_every_caller(plan, alpha_tablet):
    stop = alpha_stops(plan)[0]
    second_caller = file_request("pothole", stop.request.location, reporter_phone="+13125550111")
    apply(second_caller, "mark_duplicate", parent=stop.request, actor_label="test")
    post_event(alpha_tablet, stop, event("completed"), photos=[jpeg()])
    first = alpha_tablet.get("/api/crew/route/").json()["stops"][0]
    assert first["status"] == "completed" and first["reporters"] == 2


def test_an_event_for_another_days_stop_is_refused(open_work, streets_dept, alpha_tablet, sms_folder):
    tomorrow = plan_day(today() + dt.timedelta(days=1), streets_dept, time_limit=0.25, publish=True).plan
    stop = alpha_stops(tomorrow)[0]
    resp = post_event(alpha_tablet, stop, event("en_route"))
    assert resp.status_code == 409 and resp.json()["field"] == "device_time"
    assert f"route for {tomorrow.service_date}" in resp.json()["detail"]
    stop.refresh_from_db()
    assert stop.status == "planned" and not stop.events.exists()


def test_the_route_for_next_shows_the_next_working_day_when_today_has_none(open_work, streets_dept, alpha_tablet):
    monday = plan_day(today() + dt.timedelta(days=2), streets_dept, time_limit=0.25, publish=True).plan
    assert alpha_tablet.get("/api/crew/route/").status_code == 404
    nxt = alpha_tablet.get("/api/crew/route/?date=next")
    assert nxt.status_code == 200 and nxt.json()["date"] == monday.service_date.isoformat()


# ---- the demo always has a working day to show ------------------------------------------------------------


@pytest.fixture
def crews_off_today(crews):  # type: ignore[no-untyped-def]
    """Both crews work only on the weekday two days from now (today is their weekend, whatever day it is)."""
    workday = (today() + dt.timedelta(days=2)).weekday()
    for crew in crews.values():
        crew.workdays = [workday]
        crew.save(update_fields=["workdays"])
    return today() + dt.timedelta(days=2)


def test_with_no_crew_on_shift_today_the_next_workday_is_planned_and_shown(
    open_work, crews_off_today, dispatcher, crews
):
    out = io.StringIO()
    call_command("plan_routes", "--date", "workday", "--publish", "--time-limit", "1", stdout=out)
    assert f"planning the next workday, {crews_off_today:%A %Y-%m-%d}" in out.getvalue()
    office = Client()
    office.force_login(dispatcher)
    page = office.get("/dispatch/").content.decode()
    assert "No Streets" in page and f"showing {crews_off_today:%A}" in page
    assert f'value="{crews_off_today:%Y-%m-%d}"' in page

    link = io.StringIO()
    call_command("issue_device_link", "--busiest", stdout=link)
    assert f"route for {crews_off_today:%A %Y-%m-%d}" in link.getvalue() and "/field/#signin=" in link.getvalue()
