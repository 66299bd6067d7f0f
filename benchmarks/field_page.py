"""The crew tablet page on the demo's largest route: bytes over the network and time until the route is drawn.

Signs a tablet in (a one-time link for the crew with the most stops on the next published route; its token is
revoked at the end) and loads /field/ in Debian's chromium (1024x768, the 10-inch tablet) from the demo
server as `make demo` runs it (runserver --insecure, DEBUG off), three times:
  first    a new device: page, scripts, styles, map library, route, the route's map;
  warm     a reload with signal: the shell from the service worker, the route answered 304;
  offline  a reload with no network: everything from the service worker and IndexedDB.
Bytes are what crossed the network (responses served by the service worker count 0); "drawn" is when the
page had the route's list and map on screen, from navigation start. Goals (issue 19): first load under
500 kB, route drawn under 1 s.

    python benchmarks/field_page.py [--json]
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

from _common import ROOT, Result, parser, setup_django

GOAL_KB = 500.0
GOAL_MS = 1000.0
VIEWPORT = {"width": 1024, "height": 768}  # the 10-inch tablet


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(port: int, log: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gis_app.settings", "DJANGO_DEBUG": "0"}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--insecure", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/field/", timeout=2).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the demo server did not start")


def load(page: Any, url: str, counted: list[tuple[str, int]], *, reload: bool = False) -> tuple[float, float, int]:
    """(kB over the network, ms until the route was drawn, stops shown) for one page load."""
    counted.clear()
    if reload:
        page.reload()
    else:
        page.goto(url)
    page.wait_for_function("() => document.body.dataset.drawnMs && document.body.dataset.stops > 0", timeout=60000)
    page.wait_for_load_state("networkidle")
    drawn = float(page.evaluate("() => Number(document.body.dataset.drawnMs)"))
    stops = int(page.evaluate("() => Number(document.body.dataset.stops)"))
    return sum(n for _, n in counted) / 1024, drawn, stops


def measure(url: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    counted: list[tuple[str, int]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        context = browser.new_context(viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]})

        def finished(request: Any) -> None:
            response = request.response()
            if response is None or response.from_service_worker:
                return
            sizes = request.sizes()
            counted.append((request.url.split("?")[0], sizes["responseBodySize"] + sizes["responseHeadersSize"]))

        context.on("requestfinished", finished)
        page = context.new_page()
        first_kb, first_ms, stops = load(page, url, counted)
        biggest = sorted(counted, key=lambda c: -c[1])[:8]
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        warm_kb, warm_ms, _ = load(page, url, counted, reload=True)
        context.set_offline(True)
        offline_kb, offline_ms, _ = load(page, url, counted, reload=True)
        browser.close()
    return {
        "stops": stops,
        "first_kb": first_kb,
        "first_ms": first_ms,
        "warm_kb": warm_kb,
        "warm_ms": warm_ms,
        "offline_kb": offline_kb,
        "offline_ms": offline_ms,
        "first_load_largest": [{"url": u.split("/", 3)[-1], "kB": round(n / 1024, 1)} for u, n in biggest],
    }


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    setup_django()
    from django.conf import settings

    from field_api.management.commands.issue_device_link import busiest_crew
    from field_api.models import DeviceSignIn
    from field_api.tablet import sign_in_url

    found = busiest_crew()
    if found is None:
        print("no published route from today on: run `make demo-data` first")
        return 1
    crew, route = found
    link, raw = DeviceSignIn.issue(crew, "field_page benchmark", hours=1)
    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")  # noqa: SIM115  (closed below)
    server = serve(port, log)
    try:
        figures = measure(sign_in_url(f"http://127.0.0.1:{port}/field/", raw))
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.seek(0)
        served = log.read()
        log.close()
        link.refresh_from_db()
        if link.token is not None:
            link.token.revoke()
    result = Result("field_page")
    result.add("first load: bytes over the network", "kB", figures["first_kb"], GOAL_KB, "goal", better="lower")
    result.add("first load: route drawn", "ms", figures["first_ms"], GOAL_MS, "goal", better="lower")
    result.add("warm reload: bytes", "kB", figures["warm_kb"], figures["first_kb"], "first load", better="lower")
    result.add("warm reload: route drawn", "ms", figures["warm_ms"], GOAL_MS, "goal", better="lower")
    result.add("offline reload: bytes", "kB", figures["offline_kb"], figures["first_kb"], "first load", better="lower")
    result.add("offline reload: route drawn", "ms", figures["offline_ms"], GOAL_MS, "goal", better="lower")
    result.notes.append(
        f"{crew.name}'s route for {route.plan.service_date} ({figures['stops']} stops, the demo's largest); "
        f"served by runserver --insecure as `make demo` does, no compression; {settings.CITY_NAME} demo data"
    )
    # Every request the server answered, as its log shows (the service worker's own fetches included, which
    # the browser's per-page accounting does not see): the shell must be downloaded once, not twice.
    figures["server_requests"] = {
        name: sum(1 for line in served.splitlines() if '"GET ' in line and path in line)
        for name, path in (("leaflet.js", "/static/vendor/leaflet/leaflet.js"), ("route map", "/map/ HTTP"))
    }
    result.notes.append(
        f"requests the server answered for leaflet.js: {figures['server_requests']['leaflet.js']}, "
        f"for the route's map: {figures['server_requests']['route map']} (three loads)"
    )
    result.details = figures
    result.print(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
