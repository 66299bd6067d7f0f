"""Rules the core writes once and every way in shares: the city's edge, placement, the stop state machine,
address keys, distances, the API error shape, the crew API's declared payloads and the set-up checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.checks import Error

from field_api.crew.serializers import CrewRouteSerializer, RouteStopSerializer
from gis_app import checks
from gis_app.choices import Status
from gis_app.intake import IntakeData, IntakeError, create_request
from gis_app.models import ServiceRequest
from gis_app.tickets import new_ticket
from layers.coords import haversine_m, local_metres, point_from_lonlat
from layers.lookup import ward_at, wards_at
from layers.normalize import address_key
from routing.models import StopStatus
from routing.stops import request_verb

# ---- the city's edge: one rule for geocoding, intake, loaders --------------------------------------------

JUST_SOUTH = point_from_lonlat(0.5, -0.0001)  # 11 m outside ward 1's south edge
FAR_SOUTH = point_from_lonlat(0.5, -0.001)  # 111 m outside


def a_pothole(location, **reporter):  # type: ignore[no-untyped-def]
    """File the fixtures' pothole type (its one required answer given) at `location`."""
    return create_request(
        IntakeData(service_code="pothole", location=location, attributes={"where": "curb"}, **reporter)
    )


@pytest.mark.django_db
def test_a_point_just_outside_the_city_line_is_in_the_nearest_ward_everywhere(two_square_wards, pothole):
    single = ward_at(JUST_SOUTH)
    assert single.inside and single.number == 1 and 10 < single.outside_by_m < 12
    assert "outside its line" in single.message
    assert wards_at([JUST_SOUTH, FAR_SOUTH]) == [1, None]
    filed = a_pothole(JUST_SOUTH)
    assert filed.ward_number == 1 and filed.ward_layer_id == single.layer_version_id


@pytest.mark.django_db
def test_a_point_beyond_the_slack_is_refused_and_nothing_is_stored(two_square_wards, pothole, settings):
    with pytest.raises(IntakeError, match="outside the city"):
        a_pothole(FAR_SOUTH)
    settings.CITY_EDGE_SLACK_METRES = 0
    assert not ward_at(JUST_SOUTH).inside
    assert not ServiceRequest.objects.exists()


@pytest.mark.django_db
def test_a_filing_that_fails_after_the_row_is_saved_leaves_nothing_behind(two_square_wards, pothole, monkeypatch):
    """Intake is one transaction: a failure in the audit trail (or anything after the save) takes the request,
    its subscription and its outbox job with it, never a request with no history."""
    from gis_app import intake  # patched here only: the audit write is what fails

    def broken_audit(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the audit table is away")

    monkeypatch.setattr(intake, "record_many", broken_audit)
    with pytest.raises(RuntimeError, match="audit table"):
        a_pothole(point_from_lonlat(0.5, 0.5), reporter_email="ana@example.org", notify_via="email")
    assert not ServiceRequest.objects.exists()


@pytest.mark.django_db
def test_a_ticket_number_already_taken_files_the_request_once_under_a_fresh_number(
    two_square_wards, pothole, monkeypatch
):
    from gis_app import placement  # patched here only: the draw that collides

    first = a_pothole(point_from_lonlat(0.5, 0.5))
    draws = iter([first.ticket, new_ticket()])
    monkeypatch.setattr(placement, "new_ticket", lambda: next(draws))
    second = a_pothole(point_from_lonlat(0.6, 0.5))
    assert second.ticket != first.ticket and ServiceRequest.objects.count() == 2
    assert second.events.filter(verb="received").count() == 1  # the failed try left no audit line behind


@pytest.mark.django_db
def test_placement_gives_ward_layer_area_department_due_date_and_ticket(two_square_wards, pothole):
    req = a_pothole(point_from_lonlat(1.5, 0.5))
    assert req.ward_number == 2 and req.ward_layer_id is not None
    assert req.department == pothole.department and req.due_at > req.requested_at
    assert len(req.ticket) == 11


# ---- a stop's status and the request behind it ------------------------------------------------------------

# stop status -> {request status: the move the request makes}; any pair not listed makes none.
FOLLOWS = {
    "completed": {"open": "complete", "assigned": "complete", "in_progress": "complete"},
    "started": {"open": "start", "assigned": "start", "completed": "reopen"},
    "could_not_complete": {
        "assigned": "could_not_complete",
        "in_progress": "could_not_complete",
        "completed": "reopen",
    },
    "en_route": {"open": "assign", "completed": "reopen"},
    "arrived": {"open": "assign", "completed": "reopen"},
    "planned": {"open": "assign", "completed": "reopen"},
}


@pytest.mark.parametrize("stop_status", [s.value for s in StopStatus])
def test_a_request_follows_its_stop_exactly_as_the_table_says(stop_status):
    for request_status in Status.values:
        assert request_verb(stop_status, request_status) == FOLLOWS[stop_status].get(request_status), request_status


# ---- spellings and distances ----------------------------------------------------------------------------


def test_two_spellings_of_one_address_have_one_key():
    assert address_key("1234 North Ashland Avenue, Chicago, IL 60622") == address_key("1234 N. ASHLAND AVE")
    assert address_key("63 Street") == address_key("63rd St")
    assert address_key("1234 N Ashland Ave") != address_key("1236 N Ashland Ave")


def test_the_short_distance_formula_agrees_with_the_great_circle_nearby():
    a, b = (-87.6298, 41.8781), (-87.6250, 41.8800)
    assert local_metres(*a, *b) == pytest.approx(haversine_m(*a, *b), rel=0.003)
    assert local_metres(*a, *a) == 0


# ---- the API error shape ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_api_error_has_detail_and_code(client, intake_clerk, two_square_wards, pothole):
    client.force_login(intake_clerk)
    malformed = client.post("/api/requests/", "{not json", content_type="application/json")
    assert malformed.status_code == 400 and malformed.json()["code"] == "parse_error" and malformed.json()["detail"]
    unknown = client.post(
        "/api/requests/", {"service_code": "nope", "lon": 0.5, "lat": 0.5}, content_type="application/json"
    )
    assert unknown.status_code == 400
    assert {"detail", "code", "field"} <= set(unknown.json()) and unknown.json()["field"] == "service_code"
    missing = client.get(f"/api/requests/{new_ticket()}/")  # a well-formed ticket nobody holds
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    tablet_without_token = client.get("/api/crew/route/")
    assert tablet_without_token.status_code in (401, 403) and tablet_without_token.json()["code"]


# ---- the crew API says what it sends ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_route_payload_has_exactly_the_declared_fields(crews, open_work, streets_dept):
    from field_api.crew.views import route_payload  # the view module needs the app registry: imported in the test
    from routing.models import Route
    from routing.planning import plan_day

    plan_day(dt.date.today(), streets_dept, time_limit=0.25, publish=True)
    route = next(r for r in Route.objects.all() if r.stops.exists())
    payload = route_payload(route.pk)
    assert set(payload) == set(CrewRouteSerializer().fields)
    assert set(payload["stops"][0]) == set(RouteStopSerializer().fields)


# ---- set-up checks ---------------------------------------------------------------------------------------


def test_a_missing_or_broken_city_file_is_an_error_naming_its_setting(settings, tmp_path: Path):
    settings.CITY_ASSUMPTIONS = tmp_path / "nope.toml"
    broken = tmp_path / "streets.toml"
    broken.write_text("[[networks]\nname = ", encoding="utf-8")
    settings.CITY_STREETS_MANIFEST = broken
    found = {e.msg.split(" ")[0]: e for e in checks.check_city_files()}
    assert isinstance(found["CITY_ASSUMPTIONS"], Error) and "not a file" in found["CITY_ASSUMPTIONS"].msg
    assert "not valid TOML" in found["CITY_STREETS_MANIFEST"].msg
    assert "CITY_LAYER_MANIFEST" not in found


def test_a_broker_that_does_not_answer_is_reported(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    (warning,) = checks.check_broker()
    assert "does not answer" in warning.msg and warning.id == "gis_app.W001"
