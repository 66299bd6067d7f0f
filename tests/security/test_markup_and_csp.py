"""Findings 7 and 8 of the security review (issue 21): the pages run under a Content-Security-Policy that
allows no inline script, and markup a resident types (description, address) is shown as text and never runs,
on every page that shows it: the public map and track page, the dispatcher's and the clerk's pages, and the
crew tablet. Actor: Mallory, filing a report whose text is HTML. (Playwright in Debian's chromium.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from field_api.models import DeviceSignIn
from gis_app.intake import IntakeData, create_request
from layers.coords import point_from_lonlat
from routing.planning import plan_day
from tests.conftest import file_request, on_grid
from tests.test_pages import CHROMIUM, browser, page  # noqa: F401  (the browser fixtures)

HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing"),
]


@pytest.fixture
def mallorys_report(two_square_wards, pothole):  # type: ignore[no-untyped-def]
    return create_request(
        IntakeData(
            service_code="pothole",
            location=point_from_lonlat(0.5, 0.5),
            attributes={"where": "curb"},
            description=f"Hole {HOSTILE}",
            address=f"1 Main St {HOSTILE}",
        )
    )


def test_hostile_markup_is_shown_as_text_and_no_page_breaks_the_policy(mallorys_report, page, live_server):  # noqa: F811
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    home = page.goto(live_server.url + "/")
    assert "script-src 'self'" in home.headers["content-security-policy"]
    page.wait_for_selector("body[data-map-ready='1']")  # the map's script ran: it is a file, not inline
    # Popups and lists are built as HTML strings: every value that is not our markup goes through gis311.esc.
    assert (
        page.evaluate("() => gis311.esc('<img src=x onerror=alert(1)>&')") == "&lt;img src=x onerror=alert(1)&gt;&amp;"
    )
    page.goto(f"{live_server.url}/track/{mallorys_report.ticket}/")
    assert page.evaluate("window.pwned") is None
    assert page.locator("img[src='x']").count() == 0  # the tag is text, not an element
    page.screenshot(path="/tmp/gis311-markup-track.png")
    assert violations == [] and page.foreign_requests == []


@pytest.fixture
def mallorys_pothole_on_the_route(open_work, streets_dept):  # type: ignore[no-untyped-def]
    """Mallory's hostile report among the day's potholes, and tomorrow's draft plan that routes a crew to it."""
    report = file_request("pothole", on_grid(1, 1.5), description=f"Hole {HOSTILE}", address=f"1 Main St {HOSTILE}")
    plan = plan_day(timezone.localdate() + dt.timedelta(days=1), streets_dept, time_limit=0.25).plan
    return report, plan


def sign_in(tab, url: str, username: str) -> None:  # type: ignore[no-untyped-def]
    tab.goto(url)
    tab.fill("#id_username", username)
    tab.fill("#id_password", "pw-for-tests-only")
    tab.click("input[type=submit]")


def test_staff_pages_show_hostile_reports_without_running_them(
    intake_clerk,
    dispatcher,
    mallorys_pothole_on_the_route,
    page,  # noqa: F811
    live_server,
):
    report, plan = mallorys_pothole_on_the_route
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)

    # The dispatcher opens the plan and Mallory's stop: its popup is built from the stop's fields.
    sign_in(page, live_server.url + "/dispatch/", "dispatcher")
    page.goto(f"{live_server.url}/dispatch/?date={plan.service_date}&department=streets&plan={plan.pk}")
    page.wait_for_selector("body[data-map-ready='1']")
    page.locator(f".leaflet-marker-icon[title='{report.ticket}']").click()
    page.wait_for_selector(".leaflet-popup-content")
    assert report.ticket in page.inner_text(".leaflet-popup-content")
    page.screenshot(path="/tmp/gis311-markup-dispatch.png")
    assert page.evaluate("window.pwned") is None and page.locator("img[src='x']").count() == 0
    page.context.clear_cookies()  # signed out

    # The clerk takes a call about the same hole: Mallory's report is offered as the issue it may repeat.
    sign_in(page, live_server.url + "/intake/", "intake_clerk")
    page.wait_for_selector("body[data-map-ready='1']")
    page.evaluate(  # the pin where the caller says the hole is; choosing the type then lists nearby issues
        "([lat, lon]) => { document.getElementById('lat').value = lat; document.getElementById('lon').value = lon; }",
        [report.location.y, report.location.x],
    )
    page.select_option("#service_code", "pothole")
    page.wait_for_selector(f"text={report.ticket}")
    page.screenshot(path="/tmp/gis311-markup-intake.png")
    assert page.evaluate("window.pwned") is None and page.locator("img[src='x']").count() == 0
    assert violations == [] and page.foreign_requests == []


@pytest.fixture
def mallorys_pothole_on_todays_tablet(open_work, streets_dept, crews):  # type: ignore[no-untyped-def]
    report = file_request("pothole", on_grid(1, 1.5), description=f"Hole {HOSTILE}", address=f"1 Main St {HOSTILE}")
    plan_day(timezone.localdate(), streets_dept, time_limit=0.25, publish=True)
    _, raw = DeviceSignIn.issue(crews["alpha"], "Alpha tablet")
    return report, raw


def test_the_crew_tablet_shows_a_hostile_report_as_text(mallorys_pothole_on_todays_tablet, page, live_server):  # noqa: F811
    report, code = mallorys_pothole_on_todays_tablet
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server.url}/field/#signin={code}")
    page.wait_for_selector(f"li.stop[data-ticket='{report.ticket}']")
    card = page.inner_text(f"li.stop[data-ticket='{report.ticket}']")
    assert "<script>window.pwned=2</script>" in card and "1 Main St <img" in card  # shown, as text
    page.screenshot(path="/tmp/gis311-markup-tablet.png")
    assert page.evaluate("window.pwned") is None and page.locator("img[src='x']").count() == 0
    assert violations == [] and page.foreign_requests == []


@pytest.fixture
def council_member_for_ward_1(db):  # type: ignore[no-untyped-def]
    from field_api.reports.models import CouncilSeat
    from tests.test_reports import person

    user = person("cora", "council member")
    CouncilSeat.objects.create(user=user, ward_number=1)
    return user


def test_the_council_pages_show_a_hostile_report_as_text(
    mallorys_report,
    council_member_for_ward_1,
    page,  # noqa: F811
    live_server,
):
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, live_server.url + "/council/", "cora")
    page.wait_for_function("() => Number(document.body.dataset.updates || 0) >= 1")  # the map's script ran
    page.goto(f"{live_server.url}/council/wards/1/")
    page.wait_for_selector("body[data-map-ready='1']")
    row = page.inner_text("#requests-table tbody tr")
    assert mallorys_report.ticket in row and "1 Main St <img" in row  # shown, as text
    page.locator("#ward-map path.leaflet-interactive").last.hover()  # her pin's tooltip is built as HTML
    page.goto(f"{live_server.url}/reports/?by=ward")
    page.screenshot(path="/tmp/gis311-markup-council.png")
    assert page.evaluate("window.pwned") is None and page.locator("img[src='x']").count() == 0
    assert violations == [] and page.foreign_requests == []
