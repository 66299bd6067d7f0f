"""The planner's page and runs over HTTP: who may run them, what a run finds in a literal little city, what
bad filters get, and the downloads (GeoJSON, CSV, a folium map that needs no internet)."""

from __future__ import annotations

import datetime as dt
import json
import random
import re

import h3
import pytest
from django.test import Client
from django.utils import timezone

from gis_app.models import ServiceRequest, ServiceType
from gis_app.planner.models import HotSpotRun
from gis_app.tickets import new_ticket
from layers.coords import point_from_lonlat
from tests.conftest import _user, collection, feature


# Three little wards (about 1.1 km square each) south-west of (0.5, 0.5).
def square(x: float, y: float, s: float = 0.01) -> list[list[float]]:
    return [[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]


CORNER = (0.505, 0.505)  # where the potholes keep coming back
CONTACT = ("Jane Resident", "312-555-0101")


@pytest.fixture
def little_city(load_wards, pothole, streets_dept):  # type: ignore[no-untyped-def]
    load_wards(
        collection(feature("1", square(0.5, 0.5)), feature("2", square(0.51, 0.5)), feature("3", square(0.5, 0.51)))
    )
    secret = ServiceType.objects.create(
        code="neighbour", name="Report a neighbour", department=streets_dept, sensitive=True
    )
    now = timezone.now()
    rng = random.Random(5)

    def add(stype: ServiceType, lon: float, lat: float, days_ago: float, ward: int, **extra: object) -> ServiceRequest:
        return ServiceRequest.objects.create(
            ticket=new_ticket(), service_type=stype, department=streets_dept, location=point_from_lonlat(lon, lat),
            ward_number=ward, requested_at=now - dt.timedelta(days=days_ago), reporter_name=CONTACT[0],
            reporter_phone=CONTACT[1], address="1 Corner St", **extra,
        )  # fmt: skip

    for i in range(25):  # 25 potholes within a few metres over 75 days; each closed before the next
        add(pothole, CORNER[0] + 0.00003 * (i % 3), CORNER[1], 76 - 3 * i, 1,
            status="closed", closed_at=now - dt.timedelta(days=75 - 3 * i))  # fmt: skip
    for _ in range(60):  # scattered across the three wards
        x, y = rng.uniform(0.5, 0.52), rng.uniform(0.5, 0.51)
        add(pothole, x, y, rng.uniform(1, 80), 1 if x < 0.51 else 2)
    for i in range(4):  # sensitive reports at the very same corner: never in an analysis
        add(secret, CORNER[0], CORNER[1], 3 + i, 1)
    return pothole


@pytest.fixture
def planner(db):  # type: ignore[no-untyped-def]
    return _user("planner_pat", "planner")


def as_user(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def post(client: Client, body: object) -> object:
    return client.post("/planner/runs/", json.dumps(body), content_type="application/json")


def test_a_planner_finds_the_corner_where_potholes_keep_coming_back(little_city, planner) -> None:  # type: ignore[no-untyped-def]
    r = post(as_user(planner), {"types": "pothole", "days": 90, "min_count": 3, "radius_m": 30})
    assert r.status_code == 201, r.content
    run = r.json()
    assert run["state"] == "done" and run["requests"] == 85
    top = run["result"]["repeats"][0]
    assert (top["type"], top["count"], top["came_back"], top["open"]) == ("pothole", 25, 24, 0)
    assert abs(top["lon"] - CORNER[0]) < 0.0001 and abs(top["lat"] - CORNER[1]) < 0.0001
    assert len(top["requests"]) == 25 and top["first"] < top["last"]
    cells = run["result"]["cells"]["features"]
    hot = [c["properties"]["cell"] for c in cells if c["properties"]["bin"] > 0]
    assert run["result"]["filters"]["baseline"] == "usual"  # one type chosen: against the usual demand
    corner = h3.latlng_to_cell(CORNER[1], CORNER[0], run["result"]["filters"]["res"])
    k = run["result"]["scale"]["k"]
    assert hot and all(h3.grid_distance(corner, c) <= k for c in hot)  # hot: windows holding the corner, only
    wards = {a["number"]: a for a in run["result"]["areas"]["ward"]["areas"]}
    assert set(wards) == {1, 2, 3} and wards[3]["count"] == 0
    text = r.content.decode()
    assert CONTACT[0] not in text and CONTACT[1] not in text  # no reporter contact in any planner answer


def test_sensitive_types_never_enter_an_analysis(little_city, planner) -> None:  # type: ignore[no-untyped-def]
    c = as_user(planner)
    everything = post(c, {"days": 90}).json()
    assert everything["requests"] == 85  # the four sensitive reports are not counted
    assert {r["type"] for r in everything["result"]["repeats"]} == {"pothole"}
    asked = post(c, {"types": "neighbour"})
    assert asked.status_code == 400 and "unknown service type" in asked.json()["detail"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"days": "ninety"}, "days must be a whole number"),
        ({"start": "2026-05-01", "end": "2026-04-01"}, "must not be after end"),
        ({"radius_m": 0}, "radius_m must be between"),
        ({"alpha": "nan"}, "alpha must be between"),
        ({"res": 14}, "res must be 7 to 11"),
        ({"k": "seven"}, "k must be a whole number"),
        ({"types": "no-such-type"}, "unknown service type"),
        ({"days": 10, "recent_weeks": 4}, "recent_weeks"),
        ({"count": "everything"}, "count must be one of"),
    ],
)
def test_bad_filters_get_a_400_that_says_what_was_expected(little_city, planner, body, says) -> None:  # type: ignore[no-untyped-def]
    r = post(as_user(planner), body)
    assert r.status_code == 400 and says in r.json()["detail"]
    assert HotSpotRun.objects.count() == 0


def test_malformed_or_oversized_bodies_are_refused(planner) -> None:  # type: ignore[no-untyped-def]
    c = as_user(planner)
    assert c.post("/planner/runs/", "{not json", content_type="application/json").status_code == 400
    assert c.post("/planner/runs/", "[1, 2]", content_type="application/json").status_code == 400
    huge = json.dumps({"types": "x" * 30_000})
    assert c.post("/planner/runs/", huge, content_type="application/json").status_code == 413


def test_only_planners_and_administrators_run_or_read_analyses(little_city, planner, intake_clerk, alderman_ward_2):  # type: ignore[no-untyped-def]
    run = post(as_user(planner), {"days": 90}).json()
    assert post(Client(), {"days": 90}).status_code == 401
    for other in (intake_clerk, alderman_ward_2):
        c = as_user(other)
        assert post(c, {"days": 90}).status_code == 403
        assert c.get(run["url"]).status_code == 403
        assert c.get(run["downloads"]["cells.csv"]).status_code == 403
        assert c.get("/planner/").status_code == 403
    assert Client().get("/planner/").status_code == 302  # to sign-in
    assert as_user(planner).get("/planner/").status_code == 200
    assert as_user(planner).get("/planner/runs/999999/").status_code == 404


def test_a_large_run_is_queued_and_the_page_follows_it_to_the_end(  # type: ignore[no-untyped-def]
    little_city, planner, settings, django_capture_on_commit_callbacks
) -> None:
    settings.PLANNER_INLINE_MAX_REQUESTS = 10
    c = as_user(planner)
    with django_capture_on_commit_callbacks(execute=True):
        r = post(c, {"types": "pothole", "days": 90})
    assert r.status_code == 202 and r["Location"] == r.json()["url"]
    done = c.get(r["Location"]).json()  # the (eager) worker has finished it
    assert done["state"] == "done" and done["progress"] == 1.0 and done["result"]["repeats"][0]["count"] == 25


def test_downloads_match_the_run_and_the_map_needs_no_internet(little_city, planner) -> None:  # type: ignore[no-untyped-def]
    c = as_user(planner)
    run = post(c, {"types": "pothole", "days": 90}).json()
    repeats = json.loads(c.get(run["downloads"]["repeats.geojson"]).content)
    assert [f["properties"]["count"] for f in repeats["features"]] == [r["count"] for r in run["result"]["repeats"]]
    cells_csv = c.get(run["downloads"]["cells.csv"]).content.decode().splitlines()
    cells = json.loads(c.get(run["downloads"]["cells.geojson"]).content)["features"]
    assert cells_csv[0].split(",")[:7] == ["cell", "count", "expected", "z", "p", "q", "bin"]
    assert len(cells_csv) - 1 == len(cells) >= 30  # every cell of the study area, empty ones included
    assert sum(f["properties"]["count"] for f in cells) == 85
    page = c.get(run["downloads"]["map.html"])
    assert page["Content-Disposition"].startswith("attachment")
    html = page.content.decode()
    assert "Leaflet 1.9" in html and "L.map(" in html
    assert "cdn." not in html and not re.search(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", html)
    assert c.get(run["url"] + "nothing.zip").status_code == 404
