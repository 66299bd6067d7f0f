"""The planner page in Debian's chromium: filter to one type and 90 days, see repeat locations and hot cells on
the map, download the GeoJSON and the folium map, and open that map with the network off."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.test_pages import CHROMIUM, browser, page  # noqa: F401  (the shared browser fixtures)
from tests.test_planner import little_city, planner  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is missing (make test installs it)"),
]
SHOTS = Path("/tmp/gis311-planner")


def test_a_planner_sees_repeats_and_hot_cells_and_takes_the_map_offline(  # type: ignore[no-untyped-def]
    little_city,  # noqa: F811
    planner,  # noqa: F811
    browser,  # noqa: F811
    page,  # noqa: F811
    live_server,
    tmp_path,
) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.goto(live_server.url + "/planner/")
    page.fill("#id_username", "planner_pat")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.wait_for_selector("#filters")
    page.select_option("#f-type", "pothole")
    page.fill("#f-days", "90")
    page.click("#analyse")
    page.wait_for_function("() => document.getElementById('map').dataset.run !== undefined")
    dataset = page.evaluate("() => Object.assign({}, document.getElementById('map').dataset)")
    assert int(dataset["repeats"]) >= 1 and int(dataset["hot"]) >= 1
    assert page.locator("#repeats tbody tr").first.inner_text().startswith("Pothole in street")
    assert page.locator("#map path.leaflet-interactive").count() >= 2  # hot cells drawn (besides outlines)
    assert "Ward" in page.inner_text("#areas") or "No area stands out" in page.inner_text("#areas")
    page.screenshot(path=str(SHOTS / "planner.png"))

    with page.expect_download() as got:
        page.click("a[data-export='repeats.geojson']")
    geo = json.loads(Path(got.value.path()).read_text())
    assert geo["features"][0]["properties"]["count"] == 25
    with page.expect_download() as got:
        page.click("a[data-export='map.html']")
    saved = tmp_path / "map.html"
    got.value.save_as(saved)
    assert page.foreign_requests == []

    offline = browser.new_context(offline=True)
    off = offline.new_page()
    outside: list[str] = []
    off.on("request", lambda r: None if r.url.startswith("file:") else outside.append(r.url))
    off.goto(saved.as_uri())
    off.wait_for_function(
        "() => typeof L !== 'undefined' && document.querySelectorAll('path.leaflet-interactive').length > 0"
    )
    assert off.locator("path.leaflet-interactive").count() >= 2  # cells (and outlines) drawn with no network
    off.screenshot(path=str(SHOTS / "folium-offline.png"))
    assert outside == []
    offline.close()
