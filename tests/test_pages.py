"""Pages in a real browser (Playwright driving Debian's chromium) against a live server.

Waits are written as functions ("() => …"): a bare expression is evaluated with eval, which the pages'
Content-Security-Policy refuses.

Maps must work with no internet: every request the page makes must go to our own server.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.contrib.auth import get_user_model

from layers.models import Ward

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is missing (make test installs it)"),
]
# Data is created by fixtures listed *before* `page` in each test: once Playwright's event loop runs in
# this thread, ORM calls would land on a context-local connection that outlives the test.


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    pg = browser.new_page(viewport={"width": 1000, "height": 700})
    pg.foreign_requests = []
    pg.on("request", lambda r: None if r.url.startswith(live_server.url) else pg.foreign_requests.append(r.url))
    yield pg
    pg.close()


def test_a_resident_clicks_the_city_map_and_reads_the_ward(two_square_wards, page, live_server):
    page.goto(live_server.url + "/")
    page.wait_for_selector("body[data-map-ready='1']")
    outlines = page.locator("#map path")
    assert outlines.count() == 2  # the two literal wards, drawn from our own basemap endpoint
    box = page.locator("#map").bounding_box()
    # The map is fitted to the two squares (west = ward 1): click a quarter of the way across.
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    page.wait_for_function("() => document.getElementById('lookup').textContent.includes('ward')")
    assert "ward 1" in page.locator("#lookup").inner_text()
    assert page.foreign_requests == []


@pytest.fixture
def site_admin(db):
    return get_user_model().objects.create_superuser("site_admin", "admin@example.org", "pw-for-tests-only")


@pytest.fixture
def ward_2(two_square_wards):
    return Ward.objects.get(number=2)


def test_an_administrator_sees_a_ward_on_the_offline_map(site_admin, ward_2, page, live_server):
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "site_admin")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/layers/ward/{ward_2.pk}/change/")
    page.wait_for_function("() => document.querySelectorAll('.offline-map path').length >= 3")
    # The ward itself (red) plus both basemap outlines.
    assert page.locator(".offline-map path[stroke='#c0392b']").count() == 1
    assert page.locator(".offline-map path").count() == 3
    assert page.foreign_requests == []


@pytest.fixture
def draft_plan(open_work, streets_dept):  # type: ignore[no-untyped-def]
    import datetime as dt

    from django.utils import timezone

    from routing.planning import plan_day

    return plan_day(timezone.localdate() + dt.timedelta(days=1), streets_dept, time_limit=1).plan


def test_a_dispatcher_sees_the_routes_locks_a_stop_and_re_runs(dispatcher, draft_plan, page, live_server):
    page.goto(live_server.url + "/dispatch/")  # signs in first
    page.fill("#id_username", "dispatcher")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/dispatch/?date={draft_plan.service_date}&department=streets&plan={draft_plan.pk}")
    page.wait_for_selector("body[data-map-ready='1']")
    assert page.locator("body").get_attribute("data-stops") == "10"
    paths = page.locator("#map path")
    strokes = {paths.nth(i).get_attribute("stroke") for i in range(paths.count())}
    assert len(strokes - {"#1f3a5f", "#555", "#666", "#9a8f80"}) >= 2  # two crews' colours besides outlines, streets
    legend = page.inner_text("#legend")
    assert "Crew Alpha" in legend and "Crew Bravo" in legend  # names, not codes
    page.evaluate("() => dispatchMap.setZoom(16)")  # street level: the city map's tiles name the streets
    page.wait_for_function(
        "() => [...document.querySelectorAll('#map .street-name')].some(e => e.textContent.startsWith('Row'))"
    )
    first_stop = page.locator(".stop-label").first
    first_stop.click()
    ticket = page.input_value("#pin-ticket")
    assert ticket
    page.click("#lock")
    page.wait_for_selector("text=locked to")
    page.fill("input[name=time_limit]", "1")
    page.click("#run")
    page.wait_for_selector("body[data-map-ready='1']")
    assert f"plan={draft_plan.pk}" not in page.url
    assert page.locator(".stop-label.locked").count() == 1
    page.click("#publish")
    page.wait_for_selector("text=published: its requests are assigned")
    assert page.foreign_requests == []


@pytest.fixture
def lamp_out(two_square_wards, streets_dept):  # type: ignore[no-untyped-def]
    from gis_app.intake import IntakeData, create_request
    from gis_app.models import ServiceType
    from layers.coords import point_from_lonlat

    ServiceType.objects.create(
        code="light",
        name="Street light out",
        department=streets_dept,
        dedup_radius_m=250000,
        dedup_window_days=30,
        dedup_threshold=2,
    )
    return create_request(IntakeData(service_code="light", location=point_from_lonlat(0.5, 0.5)), actor_label="test")


def test_an_intake_clerk_sees_a_nearby_issue_and_attaches_the_caller(intake_clerk, lamp_out, page, live_server):
    page.goto(live_server.url + "/intake/")
    page.fill("#id_username", "intake_clerk")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.wait_for_selector("body[data-map-ready='1']")
    page.select_option("#service_code", "light")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)  # inside ward 1
    page.wait_for_function("() => document.getElementById('here').textContent.includes('ward 1')")  # read back
    page.wait_for_selector(f"text=Attach caller to {lamp_out.ticket}")
    page.click(".attach")
    page.wait_for_selector("#parent")
    assert page.inner_text("#parent") == lamp_out.ticket
    assert page.foreign_requests == []


def test_an_intake_clerk_finds_cross_streets_on_the_map(intake_clerk, street_grid, lamp_out, page, live_server):
    page.goto(live_server.url + "/intake/")
    page.fill("#id_username", "intake_clerk")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.wait_for_selector("body[data-map-ready='1']")
    page.fill("#address", "row 1 & co")  # partial: the street layer completes it as the clerk types
    page.wait_for_function("() => document.querySelectorAll('#suggestions option').length > 0")
    offered = page.eval_on_selector_all("#suggestions option", "os => os.map(o => o.value)")
    assert "ROW 1 & COL 2" in offered and all(o.startswith("ROW 1 & COL") for o in offered)
    page.fill("#address", "Row 1 & Col 2")
    page.click("#find")
    page.wait_for_function("() => document.getElementById('lat').value !== ''")
    assert float(page.input_value("#lat")) == pytest.approx(0.502, abs=1e-5)
    assert float(page.input_value("#lon")) == pytest.approx(0.504, abs=1e-5)
    assert "ROW 1 & COL 2" in page.inner_text("#found")
    assert page.foreign_requests == []
