"""The crew tablet page /field/ (issue 19), in Debian's chromium: signing in from a one-time link, the route
as a list and a map, stop actions queued with no signal and sent in order when it returns, a re-plan shown
to the crew, and the page installable. Actors: Crew Alpha's tablet (paving), Rosa and Sam (callers by SMS).
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from PIL import Image

from field_api.models import DeviceSignIn, StopPhoto
from gis_app.choices import Status
from gis_app.models import ServiceRequest, Subscription
from routing.models import Stop
from routing.planning import plan_day
from tests.conftest import file_request, on_grid
from tests.test_pages import CHROMIUM, browser  # noqa: F401  (the browser fixture)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.heavy,
    pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium is missing (make test installs it)"),
]
TABLET = {"width": 1024, "height": 768}
PORTRAIT = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp/gis311-field")


def in_thread(work: Callable[[], Any]) -> Any:
    """Run ORM work on a thread of its own (Playwright's loop owns this one) and close its connection."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = work()
        except BaseException as exc:  # handed back to the test
            out["error"] = exc
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")


@pytest.fixture
def todays_route(open_work, streets_dept, sms_folder):  # type: ignore[no-untyped-def]
    """Today's published plan; each of Alpha's potholes was reported by a caller who asked for an SMS."""
    for n, r in enumerate(ServiceRequest.objects.filter(service_type__code="pothole")):
        Subscription.objects.create(request=r, phone=f"+1312555{n:04d}", via="sms")
    return plan_day(timezone.localdate(), streets_dept, time_limit=1, publish=True).plan


@pytest.fixture
def sign_in_link(crews) -> str:  # type: ignore[no-untyped-def]
    _, raw = DeviceSignIn.issue(crews["alpha"], "Alpha tablet")
    return raw


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "after.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "gray").save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def tablet_context(browser, live_server, request) -> Iterator[Any]:  # noqa: F811
    """A fresh browser profile in the city's time zone; every request to another host fails and is counted."""
    viewport = getattr(request, "param", TABLET)
    context = browser.new_context(viewport=viewport, timezone_id=settings.TIME_ZONE)
    context.foreign = []

    def guard(route: Any) -> None:
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            context.foreign.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    yield context
    context.close()


def stops_in_page(page: Any) -> list[str]:
    return page.eval_on_selector_all("li.stop", "els => els.map(e => e.id.replace('stop-', ''))")


def complete(page: Any, stop_id: str, photo: Path, note: str) -> None:
    page.click(f"#stop-{stop_id} .act-completed")
    page.fill("#act-note", note)
    page.fill("#act-item", "cold patch")
    page.fill("#act-qty", "2")
    page.set_input_files("#act-photos", str(photo))
    page.click("#act-save")


@pytest.mark.parametrize(
    "tablet_context", [TABLET, PORTRAIT, PHONE], indirect=True, ids=["tablet", "tablet-portrait", "phone"]
)
def test_a_crew_works_offline_and_the_queue_drains_when_signal_returns(
    todays_route, sign_in_link, photo, sms_folder, tablet_context, live_server
):
    page = tablet_context.new_page()
    page.goto(f"{live_server.url}/field/#signin={sign_in_link}")
    page.wait_for_function("() => document.body.dataset.stops > 0")
    assert "#signin" not in page.url  # the code leaves the address bar (and the history) at once
    assert "Crew Alpha" in page.inner_text("#crew-name")
    ids = stops_in_page(page)
    assert len(ids) >= 3 and page.locator(".leaflet-marker-icon.stop-pin").count() == len(ids)
    # The route line, then the streets and the ward around it (the route's map, from our own host).
    page.wait_for_function("() => document.querySelectorAll('#map path').length >= 3")
    page.wait_for_function("() => document.getElementById('last-sync').textContent.startsWith('synced')")
    width = page.locator(f"#stop-{ids[0]} .act-completed").bounding_box()
    assert width["height"] >= 48 and width["width"] >= 48  # gloves

    tablet_context.set_offline(True)
    complete(page, ids[0], photo, "Filled with cold patch")
    complete(page, ids[1], photo, "Filled, rolled")
    page.click(f"#stop-{ids[2]} .act-could_not_complete")
    page.select_option("#act-reason", "parked_car")
    page.fill("#act-note", "Car over the hole")
    page.click("#act-save")
    page.wait_for_function("() => document.body.dataset.queue === '3'")
    assert "3 updates waiting" in page.inner_text("#queue")

    page.reload()  # no network: the shell comes from the service worker, the route and queue from IndexedDB
    page.wait_for_function("() => document.body.dataset.ready === '1' && document.body.dataset.queue === '3'")
    assert stops_in_page(page) == ids
    assert page.get_attribute(f"#stop-{ids[0]}", "data-status") == "completed"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"offline-{page.viewport_size['width']}x{page.viewport_size['height']}.png"))

    tablet_context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_function("() => document.body.dataset.queue === '0'", timeout=30000)
    # The crew's own photos come back with the route, as signed links the page can show.
    page.wait_for_function(
        "() => { const imgs = [...document.querySelectorAll('.photos img')];"
        " return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0); }"
    )
    page.screenshot(path=str(SHOTS / f"synced-{page.viewport_size['width']}x{page.viewport_size['height']}.png"))

    def check() -> None:
        stops = {str(s.pk): s for s in Stop.objects.filter(pk__in=[int(i) for i in ids[:3]]).select_related("request")}
        done = [stops[i].request for i in ids[:2]]
        assert all(r.status == Status.COMPLETED for r in done)
        assert StopPhoto.objects.filter(event__request__in=done).count() == 2
        back = stops[ids[2]].request
        assert back.status == Status.OPEN and "parked" in " ".join(back.events.values_list("note", flat=True)).lower()
        texts = [f.read_text() for f in sms_folder.glob("*.txt")]
        assert len([t for t in texts if "was completed" in t]) == 2  # each caller told once

    in_thread(check)
    assert tablet_context.foreign == []


def test_a_re_plan_while_offline_is_shown_and_nothing_done_is_lost(
    todays_route, streets_dept, sign_in_link, photo, tablet_context, live_server
):
    page = tablet_context.new_page()
    page.goto(f"{live_server.url}/field/#signin={sign_in_link}")
    page.wait_for_function("() => document.body.dataset.stops > 0")
    first = stops_in_page(page)[0]
    tablet_context.set_offline(True)
    complete(page, first, photo, "Patched before the re-plan")
    page.wait_for_function("() => document.body.dataset.queue === '1'")

    def replan() -> str:
        new = file_request("pothole", on_grid(3, 0.5), description="New hole on the corner")
        # As the office would at 9:00 (mid-shift): a re-plan from the crews' state at that hour.
        nine = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(9, 0)))
        plan_day(timezone.localdate(), streets_dept, time_limit=1, publish=True, now=nine)
        return new.ticket

    added = in_thread(replan)
    tablet_context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_function("() => document.body.dataset.queue === '0'", timeout=30000)
    page.wait_for_selector("#changes:not([hidden])")
    assert "Route changed" in page.inner_text("#changes") and added in page.inner_text("#changes")
    page.screenshot(path=str(SHOTS / "replanned.png"))

    def check() -> None:
        request = Stop.objects.get(pk=int(first)).request
        assert request.status == Status.COMPLETED

    in_thread(check)
    assert tablet_context.foreign == []


def test_a_revoked_tablet_is_signed_out_at_its_next_sync_and_keeps_its_work(
    todays_route, sign_in_link, photo, tablet_context, live_server
):
    page = tablet_context.new_page()
    page.goto(f"{live_server.url}/field/#signin={sign_in_link}")
    page.wait_for_function("() => document.body.dataset.stops > 0")
    tablet_context.set_offline(True)
    complete(page, stops_in_page(page)[0], photo, "Done before the tablet was lost")
    page.wait_for_function("() => document.body.dataset.queue === '1'")
    in_thread(lambda: DeviceSignIn.objects.get().token.revoke())  # the office revokes the tablet
    tablet_context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#notice.bad")
    notice = page.inner_text("#notice")
    assert "revoked" in notice and "1 update(s) are kept on this tablet" in notice
    assert page.inner_text("#queue") == "1 update waiting"
    assert page.locator(".act-completed:enabled").count() == 0  # no acting while signed out
    assert tablet_context.foreign == []


def test_the_page_is_installable_and_a_service_worker_controls_it(
    todays_route,
    sign_in_link,
    browser,  # noqa: F811
    live_server,
    tmp_path: Path,
):
    # A profile on disk, as a tablet has: Chrome never offers to install from an incognito-like context.
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
        viewport=TABLET,
        timezone_id=settings.TIME_ZONE,
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/field/#signin={sign_in_link}")
        page.wait_for_function("() => document.body.dataset.ready === '1'")
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        page.reload()
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == [] and manifest["url"].endswith("/field/manifest.webmanifest")
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    finally:
        context.close()
