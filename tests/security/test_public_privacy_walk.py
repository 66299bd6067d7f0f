"""Every field of every answer the public can get (Open311 in both formats and with every extension, the
updates feed, the city map's feed, the track page, the open-data exports and their dictionary), walked over a
fixture day that holds a named reporter, an anonymous one, a sensitive report and a report of a type whose
places are private. Fails on any contact datum, any trace of the sensitive report, any unrounded private spot."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from gis_app.intake import IntakeData, create_request
from gis_app.models import ServiceType
from layers.coords import point_from_lonlat
from tests.test_open311 import little_city  # noqa: F401

pytestmark = pytest.mark.django_db

NAME, EMAIL, PHONE = "Jane Resident", "jane.resident@example.org", "312-555-0142"
SECRET = "my neighbour hits his mother"
PRIVATE_SPOT = (0.501234, 0.502345)  # lon, lat of the rat complaint in a back yard
PRIVATE_ADDRESS = "1234 N STATE ST"


@pytest.fixture
def day(little_city, pothole, streets_dept):  # type: ignore[no-untyped-def]  # noqa: F811
    ServiceType.objects.create(code="abuse", name="Elder abuse hotline", department=streets_dept, sensitive=True)
    ServiceType.objects.create(code="rats", name="Rats in a yard", department=streets_dept, location_private=True)
    named = create_request(
        IntakeData(
            service_code="pothole",
            location=point_from_lonlat(0.5, 0.5025),
            attributes={"where": "lane"},
            description=f"Deep hole, call me at {PHONE} or {EMAIL}",
            reporter_name=NAME,
            reporter_email=EMAIL,
            reporter_phone=PHONE,
            notify_via="email",
        )
    )
    anonymous = create_request(
        IntakeData(
            service_code="pothole", location=point_from_lonlat(0.5, 0.501), attributes={"where": "curb"}, anonymous=True
        )
    )
    hidden = create_request(
        IntakeData(
            service_code="abuse",
            location=point_from_lonlat(0.5, 0.503),
            description=SECRET,
            reporter_name=NAME,
            reporter_phone=PHONE,
        )
    )
    rats = create_request(
        IntakeData(
            service_code="rats",
            location=point_from_lonlat(*PRIVATE_SPOT),
            address=PRIVATE_ADDRESS,
            located_by="address",
            description="rats by the garage",
            reporter_email=EMAIL,
        )
    )
    return {"named": named, "anonymous": anonymous, "hidden": hidden, "rats": rats}


def public_answers(client: Client, day: dict[str, Any]) -> Iterator[tuple[str, str]]:
    tickets = {k: v.ticket for k, v in day.items() if k != "hidden"}  # the hidden one is asked for below
    urls = ["/open311/v2/services.json", "/open311/v2/services.xml", "/open311/v2/discovery.json"]
    for fmt in ("json", "xml"):
        urls += [
            f"/open311/v2/requests.{fmt}",
            f"/open311/v2/requests.{fmt}?extensions=true",
            f"/open311/v2/requests.{fmt}?extensions=true&page=1&page_size=500",
            f"/open311/v2/requests.{fmt}?service_request_id={','.join(tickets.values())}&extensions=true",
            f"/open311/v2/servicerequestupdates.{fmt}",
        ]
        urls += [f"/open311/v2/requests/{t}.{fmt}?extensions=true" for t in tickets.values()]
    urls += [
        "/requests/open.geojson?bbox=0.4,0.4,0.6,0.6",
        "/opendata/requests.csv",
        "/opendata/requests.geojson",
        "/opendata/dictionary.json",
    ]
    urls += [f"/track/{t}/" for t in tickets.values()]
    for url in urls:
        answer = client.get(url)
        assert answer.status_code in (200, 404), (url, answer.status_code)
        text = b"".join(answer.streaming_content).decode() if answer.streaming else answer.content.decode()
        yield url, text


def leaves(text: str) -> Iterator[str]:
    """Every value in the answer, whatever its format: JSON walked, XML walked, anything else as it is."""
    try:
        data = json.loads(text)
    except ValueError:
        try:
            for el in ET.fromstring(text).iter():
                yield el.text or ""
            return
        except ET.ParseError:
            yield text
            return

    def walk(v: Any) -> Iterator[str]:
        if isinstance(v, dict):
            for k, inner in v.items():
                yield str(k)
                yield from walk(inner)
        elif isinstance(v, list):
            for inner in v:
                yield from walk(inner)
        else:
            yield str(v)

    yield from walk(data)


def test_no_public_answer_carries_contact_data_a_sensitive_report_or_a_private_spot(client: Client, day) -> None:
    lon, lat = PRIVATE_SPOT
    exact = re.compile(rf"{lat:.6f}|{lon:.6f}|{str(lat)[:7]}\d|{str(lon)[:7]}\d")
    checked = 0
    for url, text in public_answers(client, day):
        for value in leaves(text):
            checked += 1
            assert NAME not in value and EMAIL not in value and PHONE not in value, (url, value[:200])
            assert "555-0142" not in value and "jane.resident" not in value, (url, value[:200])
            assert SECRET not in value and day["hidden"].ticket not in value, (url, value[:200])
            assert not exact.search(value), (url, value[:200])  # the rat complaint's exact spot
            assert PRIVATE_ADDRESS not in value, (url, value[:200])
    assert checked > 500
    for url in (
        f"/open311/v2/requests/{day['hidden'].ticket}.json",
        f"/open311/v2/requests/{day['hidden'].ticket}.xml",
        f"/track/{day['hidden'].ticket}/",
    ):
        answer = client.get(url)
        assert answer.status_code == 404 and SECRET not in answer.content.decode()
    rats = json.loads(client.get(f"/open311/v2/requests/{day['rats'].ticket}.json").content)[0]
    assert (rats["lat"], rats["long"], rats["address"]) == (0.502, 0.501, "1200 block of N STATE ST")
