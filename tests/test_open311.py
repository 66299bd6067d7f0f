"""Open311 GeoReport v2: a resident's app posts requests with its api_key; anyone reads services and requests,
in JSON or XML, without personal data.

The little city of tests/test_geocoding.py (State St and Ashland Ave north-south, Madison St, Division St and
Roosevelt Rd east-west, in two square wards); "Fixit", a resident app, holds an api_key.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.utils import timezone

from field_api.models import Open311Key
from gis_app.models import ServiceRequest, ServiceType
from tests.conftest import LITTLE_GRID
from tests.test_geocoding import CORNERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def little_city(grid_city):  # type: ignore[no-untyped-def]
    grid_city("little city", CORNERS, LITTLE_GRID)


@pytest.fixture
def fixit_key(db) -> str:  # type: ignore[no-untyped-def]
    _, raw = Open311Key.issue("Fixit resident app", "dev@fixit.example")
    return raw


@pytest.fixture
def hotline(streets_dept):  # type: ignore[no-untyped-def]
    """A sensitive type: never listed, never shown."""
    return ServiceType.objects.create(code="abuse", name="Elder abuse hotline", department=streets_dept, sensitive=True)


def body(response) -> object:  # type: ignore[no-untyped-def]
    return json.loads(response.content)


def post(client: Client, fmt: str = "json", **fields: object):  # type: ignore[no-untyped-def]
    return client.post(f"/open311/v2/requests.{fmt}", fields)


def report(key: str, **extra: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "api_key": key,
        "service_code": "pothole",
        "address_string": "600 N State St",
        "attribute[where]": "lane",
        "description": "Deep hole by the bus stop",
    }
    fields.update(extra)
    return fields


# ---- discovery and services -----------------------------------------------------------------------------------


def test_discovery_points_clients_at_the_v2_endpoint_in_both_formats(client):
    found = body(client.get("/open311/v2/discovery.json"))
    assert isinstance(found, dict)
    endpoint = found["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["formats"] == ["application/json", "text/xml"]
    xml = ET.fromstring(client.get("/open311/v2/discovery.xml").content)
    assert xml.tag == "discovery" and [f.text for f in xml.iter("format")] == ["application/json", "text/xml"]


def test_services_list_the_public_types_and_say_which_have_questions(client, pothole, info_call, hotline):
    services = body(client.get("/open311/v2/services.json"))
    assert isinstance(services, list)
    by_code = {s["service_code"]: s for s in services}
    assert set(by_code) == {"pothole", "info"}  # the sensitive hotline is not listed
    assert by_code["pothole"]["metadata"] is True and by_code["info"]["metadata"] is False
    assert by_code["pothole"] | {"metadata": True} == {
        "service_code": "pothole",
        "service_name": "Pothole in street",
        "description": "",
        "metadata": True,
        "type": "realtime",
        "keywords": "",
        "group": "Streets",
    }
    xml = ET.fromstring(client.get("/open311/v2/services.xml").content)
    assert xml.tag == "services" and sorted(s.findtext("service_code") or "" for s in xml) == ["info", "pothole"]
    assert xml.find("service[service_code='pothole']/metadata").text == "true"  # type: ignore[union-attr]


def test_a_service_definition_lists_its_questions_and_their_allowed_values(client, pothole, hotline):
    definition = body(client.get("/open311/v2/services/pothole.json"))
    assert isinstance(definition, dict) and definition["service_code"] == "pothole"
    where, depth = definition["attributes"]
    assert (where["code"], where["datatype"], where["required"], where["order"]) == (
        "where",
        "singlevaluelist",
        True,
        1,
    )
    assert where["values"] == [{"key": "lane", "name": "Traffic lane"}, {"key": "curb", "name": "Curb"}]
    assert (depth["code"], depth["datatype"], depth["required"]) == ("depth_cm", "number", False)
    xml = ET.fromstring(client.get("/open311/v2/services/pothole.xml").content)
    assert [v.findtext("key") for v in xml.iter("value")] == ["lane", "curb"]
    for code in ("nope", "abuse"):  # unknown, and sensitive
        missing = client.get(f"/open311/v2/services/{code}.json")
        assert missing.status_code == 404 and body(missing)[0]["code"] == 404  # type: ignore[index]


# ---- posting ----------------------------------------------------------------------------------------------


def test_a_resident_app_posts_an_address_and_gets_the_ticket_back(client, little_city, pothole, fixit_key):
    answer = post(
        client,
        **report(
            fixit_key,
            email="ana@example.org",
            first_name="Ana",
            last_name="Ruiz",
            account_id="fixit-77",
            media_url="https://img.fixit.example/hole.jpg",
        ),
    )
    assert answer.status_code == 201, answer.content
    (created,) = body(answer)  # type: ignore[misc]
    assert created["service_notice"] == "Usually fixed in two days" and created["account_id"] == "fixit-77"
    req = ServiceRequest.objects.get(ticket=created["service_request_id"])
    assert (req.channel, req.located_by, req.address, req.ward_number) == ("open311", "address", "600 N STATE ST", 1)
    assert req.attributes == {"where": "lane"} and req.media_url == "https://img.fixit.example/hole.jpg"
    assert (req.reporter_name, req.reporter_email, req.notify_via) == ("Ana Ruiz", "ana@example.org", "email")
    assert req.subscriptions.filter(email="ana@example.org").exists()
    assert req.events.get(verb="received").actor_label == "Open311 client Fixit resident app"
    assert Open311Key.objects.get().last_used_at is not None


def test_a_pin_keeps_its_place_and_gets_its_nearest_address(client, little_city, pothole, fixit_key):
    answer = post(client, "xml", **report(fixit_key, address_string="", lat="0.5025", long="0.5"))
    assert answer.status_code == 201 and answer["Content-Type"].startswith("text/xml")
    ticket = ET.fromstring(answer.content).findtext("request/service_request_id")
    req = ServiceRequest.objects.get(ticket=ticket)
    assert req.located_by == "pin" and (req.location.x, req.location.y) == (0.5, 0.5025)  # type: ignore[union-attr]
    assert req.address.endswith("N STATE ST")


def test_a_multi_value_answer_arrives_as_a_list(client, little_city, streets_dept, fixit_key):
    from gis_app.models import ServiceAttribute

    graffiti = ServiceType.objects.create(code="graffiti", name="Graffiti", department=streets_dept)
    ServiceAttribute.objects.create(
        service_type=graffiti,
        code="surface",
        datatype="multivaluelist",
        order=1,
        description="On what?",
        values=[{"key": "wall", "name": "Wall"}, {"key": "door", "name": "Door"}],
    )
    answer = client.post(
        "/open311/v2/requests.json",
        {
            "api_key": fixit_key,
            "service_code": "graffiti",
            "lat": "0.5",
            "long": "0.5",
            "attribute[surface][]": ["wall", "door"],
        },
    )
    assert answer.status_code == 201, answer.content
    assert ServiceRequest.objects.get().attributes == {"surface": ["wall", "door"]}


@pytest.mark.parametrize(
    ("changes", "status", "says"),
    [
        ({"api_key": ""}, 403, "api_key is required"),
        ({"api_key": "not-a-key"}, 403, "api_key is not known"),
        ({"service_code": ""}, 400, "service_code is required"),
        ({"service_code": "abuse"}, 400, "service_code 'abuse' is not a service here"),
        ({"address_string": ""}, 400, "lat/long or address_string: Pothole in street needs a location"),
        ({"address_string": "", "address_id": "A-17"}, 400, "address_id is not supported"),
        ({"address_string": "600 State St"}, 400, "address_string: is ambiguous: did you mean"),
        ({"address_string": "600 N Nowhere Blvd"}, 400, "address_string: could not be placed"),
        ({"address_string": "", "lat": "5.5", "long": "5.5"}, 400, "is outside the city"),
        ({"address_string": "", "lat": "abc", "long": "0.5"}, 400, "lat/long or address_string:"),
        ({"attribute[where]": "sky"}, 400, "attribute[where]: must be one of curb, lane"),
        ({"attribute[colour]": "red"}, 400, "unknown attribute(s) colour"),
        ({"description": "x" * 5000}, 400, "description: is at most"),
        ({"email": "not-an-address"}, 400, "email must be an e-mail address"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url must be an http(s) URL"),
        ({"first_name": "A" * 101}, 400, "first_name is at most 100 characters"),
    ],
)
def test_a_bad_post_says_what_was_expected_and_stores_nothing(
    client, little_city, pothole, hotline, fixit_key, changes, status, says
):
    answer = post(client, **report(fixit_key, **changes))
    assert answer.status_code == status
    (error,) = body(answer)  # type: ignore[misc]
    assert error["code"] == status and says in error["description"], error
    assert ServiceRequest.objects.count() == 0


def test_a_revoked_key_is_refused_with_the_date(client, little_city, pothole, fixit_key):
    Open311Key.objects.get().revoke()
    answer = post(client, **report(fixit_key))
    assert answer.status_code == 403 and "was revoked on" in body(answer)[0]["description"]  # type: ignore[index]


def test_the_key_may_come_in_a_header(client, little_city, pothole, fixit_key):
    fields = report(fixit_key)
    del fields["api_key"]
    answer = client.post("/open311/v2/requests.json", fields, HTTP_X_API_KEY=fixit_key)
    assert answer.status_code == 201


# ---- reading ------------------------------------------------------------------------------------------------


@pytest.fixture
def filed(client, little_city, pothole, info_call, hotline, fixit_key):  # type: ignore[no-untyped-def]
    """Three requests from residents, one on the sensitive hotline, one from last year."""
    from gis_app.intake import IntakeData, create_request
    from layers.coords import point_from_lonlat

    tickets = [
        body(
            post(
                client,
                **report(
                    fixit_key,
                    description=f"Hole {i}, call 312-555-0{i}00 or ana{i}@example.org",
                    email=f"ana{i}@example.org",
                    phone="3125550100",
                ),
            )
        )[0]["service_request_id"]
        for i in range(1, 4)
    ]
    create_request(IntakeData(service_code="abuse", location=point_from_lonlat(0.5, 0.5), description="private"))
    create_request(IntakeData(service_code="info", requested_at=timezone.now() - dt.timedelta(days=400)))
    return tickets


def test_requests_read_without_a_key_and_without_personal_data(client, filed):
    answer = client.get("/open311/v2/requests.json")
    assert answer.status_code == 200
    rows = body(answer)
    assert isinstance(rows, list) and sorted(r["service_request_id"] for r in rows) == sorted(filed)
    text = answer.content.decode()
    for secret in ("ana1@example.org", "312-555-0100", "3125550100", "Ana", "private"):
        assert secret not in text
    first = next(r for r in rows if r["service_request_id"] == filed[0])
    assert first["description"] == "Hole 1, call [phone removed] or [e-mail removed]"
    assert (first["status"], first["service_code"], first["agency_responsible"]) == (
        "open",
        "pothole",
        "Streets and Sanitation",
    )
    assert first["address"] == "600 N STATE ST" and first["lat"] == pytest.approx(0.5025, abs=1e-3)
    assert first["status_notes"] == "Received" and first["expected_datetime"] is not None


def test_closed_requests_say_why_and_filters_narrow_the_list(client, filed):
    from gis_app.transitions import apply

    done = ServiceRequest.objects.get(ticket=filed[0])
    apply(done, "cancel", note="resident withdrew")
    closed = body(client.get("/open311/v2/requests.json?status=closed"))
    assert [(r["service_request_id"], r["status"], r["status_notes"]) for r in closed] == [  # type: ignore[index]
        (filed[0], "closed", "Cancelled")
    ]
    assert len(body(client.get("/open311/v2/requests.json?status=open&service_code=pothole"))) == 2  # type: ignore[arg-type]
    assert body(client.get("/open311/v2/requests.json?service_code=info")) == []  # last year's: outside 90 days
    old = body(
        client.get(
            "/open311/v2/requests.json?service_code=info&start_date="
            + (timezone.now() - dt.timedelta(days=401)).date().isoformat()
        )
    )
    assert [r["service_code"] for r in old] == ["info"]  # type: ignore[index]
    both = body(client.get(f"/open311/v2/requests.json?service_request_id={filed[1]},{filed[2]}&status=closed"))
    assert sorted(r["service_request_id"] for r in both) == sorted(filed[1:])  # type: ignore[index]  # ids win


def test_one_request_by_its_id_in_xml(client, filed):
    answer = client.get(f"/open311/v2/requests/{filed[1].lower()}.xml")
    xml = ET.fromstring(answer.content)
    assert answer.status_code == 200 and xml.tag == "service_requests"
    assert xml.findtext("request/service_request_id") == filed[1]
    assert xml.findtext("request/zipcode") == "60610"  # the nearest named corner's ZIP code (the street layer)
    hidden = ServiceRequest.objects.get(service_type__code="abuse").ticket
    assert client.get(f"/open311/v2/requests/{hidden}.json").status_code == 404


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("start_date=yesterday", "start_date 'yesterday' is not a date-time"),
        ("start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "at most 90 at once"),
        ("start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "start_date is after end_date"),
        ("status=pending", "expected open, closed or both"),
        ("service_code=abuse", "service_code abuse is not a service here"),
        ("service_request_id=NOT-A-TICKET", "service_request_id:"),
    ],
)
def test_a_bad_query_says_what_was_expected(client, filed, query, says):
    answer = client.get(f"/open311/v2/requests.xml?{query}")
    assert answer.status_code == 400
    error = ET.fromstring(answer.content)
    assert error.tag == "errors" and error.findtext("error/code") == "400"
    assert says in (error.findtext("error/description") or "")


def test_listing_requests_costs_the_same_few_queries_however_many_there_are(
    client, filed, django_assert_max_num_queries
):
    # Two queries: the page's ids in order, then those rows with all they show; extensions add one for notes.
    with django_assert_max_num_queries(2):
        assert len(body(client.get("/open311/v2/requests.json"))) == 3  # type: ignore[arg-type]
    for _ in range(5):
        post(client, **report(Open311Key.issue("more")[1]))
    with django_assert_max_num_queries(2):
        assert len(body(client.get("/open311/v2/requests.json"))) == 8  # type: ignore[arg-type]
    with django_assert_max_num_queries(3):
        assert len(body(client.get("/open311/v2/requests.json?extensions=true&page_size=5&page=2"))) == 3  # type: ignore[arg-type]
    with django_assert_max_num_queries(1):
        body(client.get("/open311/v2/services.json"))


def test_unknown_formats_methods_and_jurisdictions_are_refused(client, pothole, settings):
    assert client.get("/open311/v2/services.csv").status_code == 404
    put = client.put("/open311/v2/requests.json")
    assert put.status_code == 405 and put["Allow"] == "GET, POST"
    settings.OPEN311_JURISDICTION_ID = "city.example"
    assert client.get("/open311/v2/services.json?jurisdiction_id=city.example").status_code == 200
    other = client.get("/open311/v2/services.json?jurisdiction_id=elsewhere.example")
    assert other.status_code == 404 and "is not served here" in body(other)[0]["description"]  # type: ignore[index]


def test_the_issue_command_prints_a_key_once_and_revokes_by_prefix(db):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("issue_open311_key", "City app", "--email", "app@city.example", stdout=out)
    raw = out.getvalue().strip().split(": ", 1)[1]
    key = Open311Key.objects.get()
    assert key.prefix == raw[:8] and raw not in key.key_hash
    # "--revoke=PREFIX": a prefix may begin with "-" (URL-safe base64), which argparse reads as an option.
    call_command("issue_open311_key", f"--revoke={key.prefix}", stdout=io.StringIO())
    assert Open311Key.objects.get().revoked_at is not None


def test_a_description_with_control_characters_still_reads_as_xml(client, little_city, pothole, fixit_key):
    answer = post(client, **report(fixit_key, description="Hole\x0b near\x1f the <curb> & drain"))
    ticket = body(answer)[0]["service_request_id"]  # type: ignore[index]
    xml = ET.fromstring(client.get(f"/open311/v2/requests/{ticket}.xml").content)
    assert xml.findtext("request/description") == "Hole near the <curb> & drain"


# ---- rate limits ------------------------------------------------------------------------------------------------


def test_posts_are_limited_per_api_key_and_say_when_to_come_back(client, little_city, pothole, fixit_key, settings):
    settings.OPEN311_POST_RATE = "2/hour"
    _, other_key = Open311Key.issue("Neighbourhood app", "dev@hood.example")
    assert [post(client, **report(fixit_key)).status_code for _ in range(2)] == [201, 201]
    third = post(client, **report(fixit_key))
    assert third.status_code == 429 and 1 <= int(third["Retry-After"]) <= 3600
    assert "at most 2/hour" in body(third)[0]["description"]  # type: ignore[index]
    assert ServiceRequest.objects.count() == 2  # the refused one wrote nothing
    assert post(client, **report(other_key)).status_code == 201  # another app's key has its own count
    xml = ET.fromstring(post(client, "xml", **report(fixit_key)).content)
    assert xml.tag == "errors" and xml.findtext("error/code") == "429"


def test_reads_are_limited_per_client_address_and_the_limit_can_be_turned_off(client, pothole, settings):
    settings.OPEN311_READ_RATE = "3/minute"
    assert [client.get("/open311/v2/services.json").status_code for _ in range(3)] == [200, 200, 200]
    assert client.get("/open311/v2/requests.json").status_code == 429  # every read counts together
    assert client.get("/open311/v2/services.json", REMOTE_ADDR="203.0.113.9").status_code == 200
    settings.OPEN311_READ_RATE = ""
    assert client.get("/open311/v2/services.json").status_code == 200
