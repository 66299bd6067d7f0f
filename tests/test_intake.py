"""Intake: a call becomes a request with ward, department, due date, ticket and audit trail, or a clear 4xx."""

from __future__ import annotations

import pytest

from gis_app.models import Department, DepartmentRule, RequestEvent, ServiceRequest, Subscription
from gis_app.tickets import normalize_ticket

pytestmark = pytest.mark.django_db

URL = "/api/requests/"


def body(**over):  # type: ignore[no-untyped-def]
    data = {
        "service_code": "pothole",
        "lon": "1.5",
        "lat": "0.5",
        "address": "1500 E Test Ave",
        "description": "Deep hole in the eastbound lane",
        "attributes": {"where": "lane", "depth_cm": "12"},
        "channel": "phone",
        "reporter_name": "Rosa Resident",
        "reporter_email": "rosa@example.org",
        "notify_via": "email",
    }
    data.update(over)
    return data


def test_an_intake_clerk_files_a_pothole_and_gets_a_ticket(client, intake_clerk, two_square_wards, pothole):
    client.force_login(intake_clerk)
    response = client.post(URL, body(), content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert normalize_ticket(data["ticket"]) == data["ticket"]
    assert (data["ward_number"], data["department"], data["status"]) == (2, "streets", "open")
    assert data["due_at"] is not None
    assert [e["verb"] for e in data["history"]] == ["received", "routed", "due_date_set"]
    req = ServiceRequest.objects.get(ticket=data["ticket"])
    assert req.attributes == {"where": "lane", "depth_cm": 12.0}
    assert Subscription.objects.filter(request=req, email="rosa@example.org", via="email").exists()


def test_an_information_call_is_logged_without_a_location(client, intake_clerk, two_square_wards, info_call):
    client.force_login(intake_clerk)
    response = client.post(
        URL, {"service_code": "info", "description": "Asked about bulk pickup"}, content_type="application/json"
    )
    assert response.status_code == 201
    req = ServiceRequest.objects.get(ticket=response.json()["ticket"])
    assert req.location is None and req.ward_number is None and req.located_by == "none"


def test_a_ward_rule_sends_the_request_to_another_department(client, intake_clerk, two_square_wards, pothole):
    contractor = Department.objects.create(code="ward2-contract", name="Ward 2 contractor")
    DepartmentRule.objects.create(service_type=pothole, ward_number=2, department=contractor)
    client.force_login(intake_clerk)
    east = client.post(URL, body(), content_type="application/json").json()
    west = client.post(URL, body(lon="0.5"), content_type="application/json").json()
    assert (east["department"], west["department"]) == ("ward2-contract", "streets")
    routed = RequestEvent.objects.get(request__ticket=east["ticket"], verb="routed")
    assert routed.note == "ward 2 rule for pothole"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"lon": "5", "lat": "0.5"}, "location", "outside the city"),
        ({"service_code": "unicorn"}, "service_code", "unknown service type 'unicorn'"),
        ({"attributes": {"depth_cm": "3"}}, "attributes.where", "is required"),
        ({"attributes": {"where": "roof"}}, "attributes.where", "must be one of curb, lane"),
        ({"attributes": {"where": "lane", "depth_cm": "deep"}}, "attributes.depth_cm", "must be a number"),
        ({"attributes": {"where": "lane", "colour": "red"}}, "attributes", "unknown attribute(s) colour"),
        ({"lat": "412"}, "location", "lat must be between -90 and 90; got 412.0"),
        ({"lon": "", "lat": ""}, "location", "needs a location"),
        ({"description": "x" * 4001}, "description", "4000"),
        ({"notify_via": "sms"}, "reporter_phone", "is needed to send updates by text message"),
        ({"reporter_email": "not-an-email"}, "reporter_email", "valid email"),
    ],
)
def test_bad_intake_gets_a_4xx_that_says_what_was_expected_and_writes_nothing(
    client, intake_clerk, two_square_wards, pothole, change, field, message
):
    client.force_login(intake_clerk)
    response = client.post(URL, body(**change), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert message in response.json()["detail"]
    assert not ServiceRequest.objects.exists() and not RequestEvent.objects.exists()


def test_the_public_cannot_file_through_the_staff_api(client, two_square_wards, pothole):
    assert client.post(URL, body(), content_type="application/json").status_code in (401, 403)
    assert not ServiceRequest.objects.exists()
