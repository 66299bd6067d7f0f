# ruff: noqa: F811  (the fixtures are imported from tests/test_open311.py and named as test arguments)
"""What real Open311 clients use beyond the core: Chicago's extensions (extended attributes, notes, paging,
updated_after), FixMyStreet's updates feed and extended statuses, tokens, address_id, a live changeset, and
no anonymous report where a type needs a contact. Same little city and "Fixit" app as tests/test_open311.py."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.utils import timezone

from gis_app.models import ServiceRequest, ServiceType
from gis_app.transitions import apply
from tests.test_open311 import body, filed, fixit_key, hotline, little_city, post, report  # noqa: F401

pytestmark = pytest.mark.django_db


def test_extensions_add_ward_channel_duplicate_and_the_public_history(client: Client, filed) -> None:
    plain = body(client.get(f"/open311/v2/requests/{filed[0]}.json"))[0]  # type: ignore[index]
    assert "extended_attributes" not in plain and "notes" not in plain  # base shape unless asked
    (one,) = body(client.get(f"/open311/v2/requests/{filed[0]}.json?extensions=true"))  # type: ignore[misc]
    ext = one["extended_attributes"]
    assert ext["ward"] == "1" and ext["channel"] == "open311" and ext["extended_status"] == "OPEN"
    assert one["notes"][0]["type"] == "opened" and one["notes"][0]["summary"] == "Received"
    assert all(n["datetime"][-6] in "+-" for n in one["notes"])  # every datetime carries its zone
    # staff merge the second report into the first: it says so and names its parent
    apply(ServiceRequest.objects.get(ticket=filed[1]), "mark_duplicate", actor_label="clerk", note="same hole",
          parent=ServiceRequest.objects.get(ticket=filed[0]))  # fmt: skip
    dup = body(client.get(f"/open311/v2/requests/{filed[1]}.json?extensions=true"))[0]  # type: ignore[index]
    assert dup["extended_attributes"]["duplicate"] is True
    assert dup["extended_attributes"]["parent_service_request_id"] == filed[0]
    assert dup["extended_attributes"]["extended_status"] == "DUPLICATE"
    bad = client.get(f"/open311/v2/requests/{filed[0]}.json?extensions=maybe")
    assert bad.status_code == 400 and "extensions must be true or false" in body(bad)[0]["description"]  # type: ignore[index]


def test_the_ward_is_written_as_the_city_writes_its_district(client: Client, filed, dispatcher) -> None:
    """A map whose districts are codes ("District 3B"): Open311's extension, the staff API and the open-data
    export show the code, not the number it is kept under."""
    from gis_app.opendata import ExportFilters, rows
    from layers.models import Ward

    request = ServiceRequest.objects.get(ticket=filed[0])
    Ward.objects.filter(layer_version_id=request.ward_layer_id, number=request.ward_number).update(code="District 1A")
    (one,) = body(client.get(f"/open311/v2/requests/{filed[0]}.json?extensions=true"))  # type: ignore[misc]
    assert one["extended_attributes"]["ward"] == "District 1A"
    listed = body(client.get("/open311/v2/requests.json?extensions=true"))
    assert {r["extended_attributes"]["ward"] for r in listed if r["service_request_id"] == filed[0]} == {  # type: ignore[index, union-attr]
        "District 1A"
    }
    client.force_login(dispatcher)
    staff = client.get(f"/api/requests/{filed[0]}/").json()
    assert staff["district"] == "District 1A" and staff["ward_number"] == request.ward_number
    day = timezone.localdate(request.requested_at)
    published = {r["service_request_id"]: r["ward"] for r in rows(ExportFilters(day, day))}
    assert published[filed[0]] == "District 1A"


def test_pages_walk_a_day_once_each_in_a_stable_order(client: Client, filed) -> None:
    seen: list[str] = []
    for page in range(1, 10):
        rows = body(client.get(f"/open311/v2/requests.json?page_size=2&page={page}&extensions=true"))
        assert isinstance(rows, list)
        if not rows:
            break
        seen += [r["service_request_id"] for r in rows]
    assert sorted(seen) == sorted(filed) and len(seen) == len(set(seen))  # each once; the sensitive one never
    for query, says in (("page_size=501", "page_size must be 1 to 500"), ("page=0", "page must be 1"),
                        ("page=x", "whole numbers")):  # fmt: skip
        bad = client.get(f"/open311/v2/requests.json?{query}")
        assert bad.status_code == 400 and says in body(bad)[0]["description"]  # type: ignore[index]


def test_updated_after_returns_only_what_changed_since(client: Client, filed) -> None:
    mark = timezone.now()
    req = ServiceRequest.objects.get(ticket=filed[1])
    apply(req, "cancel", actor_label="streets supervisor", note="reported twice by mistake")
    since = mark.isoformat().replace("+", "%2B")
    changed = body(client.get(f"/open311/v2/requests.json?updated_after={since}"))
    assert [r["service_request_id"] for r in changed] == [filed[1]]  # type: ignore[index]
    assert changed[0]["status"] == "closed"  # type: ignore[index]
    before = body(client.get(f"/open311/v2/requests.json?updated_before={since}"))
    assert filed[1] not in [r["service_request_id"] for r in before]  # type: ignore[union-attr]


def test_the_updates_feed_follows_a_request_to_fixed_and_takes_a_comment_once(client: Client, filed, fixit_key) -> None:
    start = (timezone.now() - dt.timedelta(minutes=5)).isoformat().replace("+", "%2B")
    req = ServiceRequest.objects.get(ticket=filed[2])
    for verb in ("assign", "start", "complete"):
        apply(req, verb, actor_label="crew alpha", note="filled with cold patch", photos=1)
    feed = body(client.get(f"/open311/v2/servicerequestupdates.json?start_date={start}"))
    mine = [u for u in feed if u["service_request_id"] == filed[2]]  # type: ignore[union-attr]
    assert [u["status"] for u in mine] == ["OPEN", "ACTION_SCHEDULED", "IN_PROGRESS", "FIXED"]
    assert mine[0]["automated"] is False and all(u["update_id"] for u in mine)
    assert all("@" not in (u["description"] or "") for u in feed)  # type: ignore[union-attr]
    sent = {"api_key": fixit_key, "service_request_id": filed[0], "description": "Still there, ring 312-555-0199",
            "status": "OPEN", "update_id_ext": "fms-91"}  # fmt: skip
    first = client.post("/open311/v2/servicerequestupdates.json", sent)
    again = client.post("/open311/v2/servicerequestupdates.json", sent)
    assert first.status_code == again.status_code == 200
    assert body(first)[0]["update_id"] == body(again)[0]["update_id"]  # type: ignore[index]  # a retry, once
    assert ServiceRequest.objects.get(ticket=filed[0]).events.filter(verb="comment").count() == 1
    comment = [u for u in body(client.get(f"/open311/v2/servicerequestupdates.json?start_date={start}"))
               if u["service_request_id"] == filed[0] and u["description"].startswith("Still")]  # type: ignore[union-attr]  # fmt: skip
    assert comment and "312-555-0199" not in comment[0]["description"]  # masked like every description
    xml = ET.fromstring(client.get(f"/open311/v2/servicerequestupdates.xml?start_date={start}").content)
    assert xml.tag == "service_request_updates" and xml.find("request_update/update_id") is not None


@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"service_request_id": ""}, 400, "service_request_id is required"),
        ({"service_request_id": "ZZZZ-ZZZZ-Z"}, 400, "service_request_id"),
        ({"description": ""}, 400, "description is required"),
        ({"status": "BURNT"}, 400, "expected one of"),
        ({"api_key": "nope"}, 403, "api_key is not known"),
    ],
)
def test_a_bad_update_says_what_was_expected(client: Client, filed, fixit_key, fields, status, says) -> None:
    sent = {"api_key": fixit_key, "service_request_id": filed[0], "description": "hello"} | fields
    answer = client.post("/open311/v2/servicerequestupdates.json", sent)
    assert answer.status_code == status and says in body(answer)[0]["description"]  # type: ignore[index]


def test_sensitive_requests_are_in_no_feed_and_accept_no_update(client: Client, filed, fixit_key) -> None:
    hidden = ServiceRequest.objects.get(service_type__code="abuse")
    start = (timezone.now() - dt.timedelta(hours=1)).isoformat().replace("+", "%2B")
    feed = body(client.get(f"/open311/v2/servicerequestupdates.json?start_date={start}"))
    assert hidden.ticket not in {u["service_request_id"] for u in feed}  # type: ignore[union-attr]
    answer = client.post("/open311/v2/servicerequestupdates.json",
                         {"api_key": fixit_key, "service_request_id": hidden.ticket, "description": "x"})  # fmt: skip
    assert answer.status_code == 404


def test_tokens_are_never_issued_so_any_token_is_unknown(client: Client) -> None:
    for fmt in ("json", "xml"):
        answer = client.get(f"/open311/v2/tokens/abc-123.{fmt}")
        assert answer.status_code == 404
    assert "issues no tokens" in body(client.get("/open311/v2/tokens/abc-123.json"))[0]["description"]  # type: ignore[index]


def test_a_post_without_contact_is_refused_where_the_type_wants_one(
    client: Client, little_city, pothole, fixit_key
) -> None:
    pothole.anonymous_allowed = False
    pothole.save()
    refused = post(client, **report(fixit_key))
    assert refused.status_code == 400 and "takes no anonymous reports" in body(refused)[0]["description"]  # type: ignore[index]
    assert not ServiceRequest.objects.exists()
    accepted = post(client, **report(fixit_key, phone="3125550100"))
    assert accepted.status_code == 201


def test_the_changeset_moves_when_a_service_changes(client: Client, pothole) -> None:
    before = body(client.get("/open311/v2/discovery.json"))["changeset"]  # type: ignore[index]
    ServiceType.objects.filter(pk=pothole.pk).update(updated_at=timezone.now() + dt.timedelta(seconds=5))
    after = body(client.get("/open311/v2/discovery.json"))["changeset"]  # type: ignore[index]
    assert after > before and after.endswith("Z")


def test_address_id_is_resolved_through_the_address_layer(client: Client, little_city, pothole, fixit_key) -> None:
    from layers.coords import point_from_lonlat
    from layers.models import AddressPoint, LayerKind, LayerVersion

    layer = LayerVersion.objects.create(kind=LayerKind.ADDRESSES, name="test points", active=True)
    spot = AddressPoint.objects.create(
        layer_version=layer,
        number=600,
        number_text="600",
        direction="N",
        street="STATE ST",
        postcode="60610",
        geom=point_from_lonlat(0.5, 0.5025),
    )
    answer = post(client, **report(fixit_key, address_string="", address_id=str(spot.pk)))
    assert answer.status_code == 201, answer.content
    ticket = body(answer)[0]["service_request_id"]  # type: ignore[index]
    got = body(client.get(f"/open311/v2/requests/{ticket}.json"))[0]  # type: ignore[index]
    assert (got["address_id"], got["zipcode"], got["lat"]) == (str(spot.pk), "60610", 0.5025)
    missing = post(client, **report(fixit_key, address_string="", address_id="999999"))
    assert missing.status_code == 400 and "not in the city's address layer" in body(missing)[0]["description"]  # type: ignore[index]


@pytest.mark.parametrize(
    "when",
    ["0359-11-13T05:55:11-21:27", "2026-01-01T00:00:00+15:00", "1850-01-01T00:00:00Z"],
)
def test_a_date_no_database_can_hold_is_a_400_not_a_crash(client: Client, pothole, when: str) -> None:
    for path in ("requests", "servicerequestupdates"):
        answer = client.get(f"/open311/v2/{path}.json", {"start_date": when})
        assert answer.status_code == 400 and "UTC offset of at most 14:00" in body(answer)[0]["description"]  # type: ignore[index]
