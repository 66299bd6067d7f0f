"""Findings 7 and 8 of the security review (issue 21), in part: the pages run under a Content-Security-Policy
that allows no inline script, and markup a resident types (description, address) is shown as text and never
runs. Actor: Mallory, filing a report whose text is HTML. (Playwright in Debian's chromium.)"""

from __future__ import annotations

import pytest

from gis_app.intake import IntakeData, create_request
from layers.coords import point_from_lonlat
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
