"""The council pages in Debian's chromium (issue 22): Cora, the council member for ward 1, signs in, sees her
ward highlighted, filters to potholes of the last 30 days, reads street names on the map at street zoom,
watches a request filed through the API arrive in her ward's count without a reload, opens and prints her ward
page, cannot change anything, and downloads a report whose CSV says what the page says.

The little city: two square wards, a 5 x 5 street grid ("Row 0".."Row 4", "Col 0".."Col 4") in ward 1."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import pytest
from django.utils import timezone

from field_api.models import Open311Key
from field_api.reports.models import CouncilSeat
from gis_app.models import ServiceRequest
from tests.conftest import GRID_LAT0, GRID_LON0, GRID_STEP, file_request, on_grid
from tests.test_pages import CHROMIUM, browser, page  # noqa: F401  (the shared browser fixtures)
from tests.test_reports import person

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is missing (make test installs it)"),
]
SHOTS = Path("/tmp/gis311-council")


@pytest.fixture
def ward_one_history(street_grid, pothole, streetlight):  # type: ignore[no-untyped-def]
    """Three potholes and a light in ward 1 this month, one pothole filed 60 days ago."""
    made = [file_request("pothole", on_grid(i, 1.5)) for i in (0, 2, 4)] + [file_request("light", on_grid(1, 0.5))]
    old = file_request("pothole", on_grid(3, 2.5))
    ServiceRequest.objects.filter(pk=old.pk).update(requested_at=timezone.now() - dt.timedelta(days=60))
    return made


@pytest.fixture
def cora(db):  # type: ignore[no-untyped-def]
    user = person("cora", "council member")
    CouncilSeat.objects.create(user=user, ward_number=1)
    return user


@pytest.fixture
def resident_app(db) -> str:  # type: ignore[no-untyped-def]
    return Open311Key.issue("Resident app", "dev@app.example")[1]


def sign_in(tab, live_server, path: str) -> None:  # type: ignore[no-untyped-def]
    tab.goto(live_server.url + path)
    tab.fill("#id_username", "cora")
    tab.fill("#id_password", "pw-for-tests-only")
    tab.click("input[type=submit][value='Sign in']")


def updates(tab) -> int:  # type: ignore[no-untyped-def]
    return int(tab.evaluate("() => document.body.dataset.updates || '0'"))


def test_a_council_member_works_her_ward_from_the_map_to_a_printed_page(  # type: ignore[no-untyped-def]
    ward_one_history,
    cora,
    resident_app,
    browser,  # noqa: F811
    page,  # noqa: F811
    live_server,
) -> None:
    SHOTS.mkdir(exist_ok=True)
    sign_in(page, live_server, "/council/")
    page.wait_for_function("() => Number(document.body.dataset.updates || 0) >= 1")
    assert page.locator("path.my-ward").count() == 1  # her ward drawn heavier; ward 2 still on the map
    assert page.locator("#map path.leaflet-interactive").count() == 2
    assert page.locator("#ward-table tr.mine td").first.inner_text() == "1"
    assert page.inner_text("#my-filed") == "5"

    # Potholes of the last 30 days: the one filed 60 days ago drops out.
    seen = updates(page)
    page.select_option("#f-type", "pothole")
    start = (timezone.localdate() - dt.timedelta(days=29)).isoformat()
    page.fill("#f-start", start)
    page.dispatch_event("#f-start", "change")
    page.wait_for_function(f"() => Number(document.body.dataset.updates) > {seen + 1}")
    assert page.inner_text("#my-filed") == "3" and page.inner_text("#my-open") == "3"

    # Street names along the streets at street zoom, as page text over the tiles.
    middle = (GRID_LAT0 + 2 * GRID_STEP, GRID_LON0 + 2 * GRID_STEP)
    page.evaluate(f"() => window.gis311.lastMap.setView([{middle[0]}, {middle[1]}], 16)")
    page.wait_for_function(
        "() => ['Row 2', 'Col 2'].every(n => [...document.querySelectorAll('.street-name')]"
        ".some(e => e.textContent === n))"
    )
    names = page.locator(".street-name .map-label-text").all_inner_texts()
    assert {"Row 2", "Col 2"} <= set(names)
    col = page.locator(".street-name .map-label-text", has_text="Col 2").first
    assert "rotate(-90deg)" in col.evaluate("e => e.style.transform") and col.is_visible()
    page.screenshot(path=str(SHOTS / "council-street-zoom.png"))

    # A resident's app files a pothole in ward 1: the count moves within a few seconds, no reload.
    app = browser.new_context()
    lat, lon = GRID_LAT0 + 1.5 * GRID_STEP, GRID_LON0 + 3 * GRID_STEP
    filed = app.request.post(
        live_server.url + "/open311/v2/requests.json",
        form={
            "api_key": resident_app,
            "service_code": "pothole",
            "lat": str(lat),
            "long": str(lon),
            "attribute[where]": "lane",
            "description": "New hole",
        },
    )
    assert filed.status == 201, filed.text()
    app.close()
    page.wait_for_function("() => document.getElementById('my-filed').textContent === '4'", timeout=15_000)
    page.screenshot(path=str(SHOTS / "council-map.png"))

    # Her ward page, printed.
    page.click("#my-ward-link")
    page.wait_for_selector("body[data-map-ready='1']")
    assert "Ward 1 (your ward)" in page.inner_text("#ward-title")
    assert page.locator("#requests-table tbody tr").count() == 4  # the pothole filter carried over
    assert page.locator("#sla-table tbody tr").first.inner_text().startswith("Pothole in street")
    assert page.locator("form[method=post]:not(.nav-form)").count() == 0  # nothing to edit
    page.screenshot(path=str(SHOTS / "ward-page.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator("#filters").is_visible() and not page.locator("header").is_visible()
    page.pdf(path=str(SHOTS / "ward-page.pdf"), format="Letter")
    page.screenshot(path=str(SHOTS / "ward-page-print.png"), full_page=True)
    page.emulate_media(media="screen")
    assert (SHOTS / "ward-page.pdf").stat().st_size > 10_000

    # A write from her session is refused (the pages are read-only).
    refused = page.evaluate(
        "() => fetch('/council/wards.json', {method: 'POST', credentials: 'same-origin'}).then(r => r.status)"
    )
    assert refused in (403, 405)

    # The reports page and its CSV say the same.
    page.goto(live_server.url + "/reports/?by=type&start=" + start)
    cells = [
        [c.strip() for c in row.locator("td").all_inner_texts()] for row in page.locator("#report-table tbody tr").all()
    ]
    got = page.request.get(live_server.url + str(page.locator("#csv").get_attribute("href")))
    table = list(csv.reader(io.StringIO(got.text())))[1:]
    assert len(table) == len(cells) and cells
    for shown, written in zip(cells, table, strict=True):
        assert [c.replace(" ⚑", "") for c in shown] == written
    page.screenshot(path=str(SHOTS / "reports.png"), full_page=True)
    assert page.foreign_requests == []
