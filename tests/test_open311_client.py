"""A third-party client's whole round trip over real HTTP, in JSON and in XML: discover, list services, read a
definition, post a request with its attributes, read it back, page through the day with extensions, follow
the updates feed to the fix. The client (tests/open311_spec_client.py) is written from the spec's text."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from field_api.models import Open311Key
from gis_app.models import ServiceRequest
from gis_app.transitions import apply
from tests.open311_spec_client import Open311Failure, SpecClient
from tests.test_open311 import little_city  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_spec_client_discovers_posts_reads_pages_and_follows_updates(  # type: ignore[no-untyped-def]
    little_city,  # noqa: F811
    pothole,
    live_server,
    fmt,
) -> None:
    _, key = Open311Key.issue("Spec client", "dev@spec.example")
    app = SpecClient(f"{live_server.url}/open311/v2/discovery.json", api_key=key, fmt=fmt)
    started = timezone.now() - dt.timedelta(minutes=1)
    doc = app.discover()
    assert app.base.endswith("/open311/v2") and doc["changeset"]
    listed = {s["service_code"]: s for s in app.services()}
    assert str(listed["pothole"]["metadata"]).lower() == "true"
    definition = app.definition("pothole")
    answers = {}
    for a in definition["attributes"]:
        if str(a["required"]).lower() == "true":
            answers[a["code"]] = a["values"][0]["key"]  # the first allowed value
    ids = [
        app.post(
            "pothole",
            lat=0.5,
            long=0.5 + 0.0005 * i,
            attributes=answers,
            description=f"Hole {i} Straße",
            email=f"r{i}@example.org",
        )
        for i in range(3)
    ]
    back = app.request(ids[0])
    assert back["service_request_id"] == ids[0] and back["description"] == "Hole 0 Straße"
    assert back["status"] == "open" and "email" not in back
    rows = app.all_pages(page_size=2, extensions="true", start_date=started.isoformat())
    assert sorted(r["service_request_id"] for r in rows) == sorted(ids)
    assert all(r["extended_attributes"]["ward"] == "1" for r in rows)
    req = ServiceRequest.objects.get(ticket=ids[1])
    for verb in ("assign", "start", "complete"):
        apply(req, verb, actor_label="crew alpha", note="patched", photos=1)
    feed = [u for u in app.updates(started.isoformat()) if u["service_request_id"] == ids[1]]
    assert [u["status"] for u in feed][-1] == "FIXED"
    with pytest.raises(Open311Failure) as refused:
        app.post("no-such-type", lat=0.5, long=0.5, attributes={})
    assert refused.value.status == 400 and refused.value.errors[0]["description"]
