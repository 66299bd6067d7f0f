"""Field API under load: route pull p95 and event POST p95 with 50 concurrent crew devices, over loopback,
against gunicorn (a real WSGI server), with a minimal DRF list view on the same server as the peer.

    python benchmarks/field_api_load.py [--json] [--clients 50] [--seconds 20] [--workers 5]

Runs on a throwaway copy of the demo database (CREATE DATABASE … TEMPLATE gis311: stop the demo server
first), so the demo's routes are not touched. Each client is one device of a crew with a published route
today (crews get several devices when there are fewer crews than clients); it loops: pull its route (a full
200: the last event changed it), pull again with If-None-Match (a 304), post an event for its next stop, then
waits --think seconds (default 2 s: far busier than a real crew, which posts a few events an hour; 0 measures
saturation). The peer phase has the same clients, same pacing, call GET /api/layers/versions/ three times.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _common import ROOT, Result, copy_demo_database, drop_database_of, parser

PORT = 8099


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 20 else max(values, default=float("nan"))


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--workers", type=int, default=5, help="gunicorn workers (2 x cores + 1 on 2 cores)")
    p.add_argument("--think", type=float, default=2.0, help="seconds each device waits between rounds")
    args = p.parse_args()
    url = copy_demo_database("fieldbench")
    if url is None:
        return 1
    # As in production: DEBUG off (DEBUG keeps every query in memory and slows each request down).
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "gis_app.settings", "DJANGO_DEBUG": "0"}
    os.environ.update({"DATABASE_URL": url})
    sys.path.insert(0, str(ROOT))
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis_app.settings")
    django.setup()
    from django.db import connection
    from django.utils import timezone

    from field_api.models import DeviceToken
    from routing.models import PlanStatus, Route

    server = None
    try:
        routes = list(
            Route.objects.filter(plan__service_date=timezone.localdate(), plan__status=PlanStatus.PUBLISHED)
            .exclude(stops=None)
            .select_related("crew")
        )
        if not routes:
            print("no published routes today: run `make demo-data` (it plans the day) first")
            return 1
        clients = []
        for i in range(args.clients):
            route = routes[i % len(routes)]
            _, raw = DeviceToken.issue(route.crew, f"bench device {i}")
            clients.append((raw, list(route.stops.order_by("sequence").values_list("id", flat=True))))
        connection.close()
        server = subprocess.Popen(
            # The production configuration (preloaded, warmed and frozen master; recycled workers), as `make demo`.
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-c",
                str(ROOT / "gis_app" / "gunicorn_conf.py"),
                "gis_app.wsgi",
            ],
            cwd=ROOT,
            env={
                **env,
                "HOST": "127.0.0.1",
                "PORT": str(PORT),
                "WEB_CONCURRENCY": str(args.workers),
                "WEB_ACCESS_LOG": "/dev/null",
            },
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
                c.request("GET", "/api/layers/versions/")
                c.getresponse().read()
                break
            except OSError:
                time.sleep(0.3)
        lat: dict[str, list[float]] = {"pull_200": [], "pull_304": [], "event": [], "peer": []}
        errors: list[str] = []
        lock = threading.Lock()

        def call(
            conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str], body: bytes | None = None
        ) -> tuple[int, float, Any, str]:
            t0 = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, time.perf_counter() - t0, data, resp.getheader("ETag") or ""

        def crew_device(token: str, stops: list[int], until: float, warm_until: float = 0.0) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            auth = {"Authorization": f"Device {token}", "Content-Type": "application/json"}
            etag, n = "", 0
            mine: dict[str, list[float]] = {k: [] for k in lat}
            while time.time() < until:
                for _ in range(2):
                    status, secs, _, tag = call(conn, "GET", "/api/crew/route/", {**auth, "If-None-Match": etag})
                    mine["pull_304" if status == 304 else "pull_200"].append(secs)
                    if status not in (200, 304):
                        errors.append(f"pull {status}")
                    etag = tag or etag
                kind = ["en_route", "arrived", "started"][n % 3]
                body = json.dumps(
                    {"id": str(uuid.uuid4()), "kind": kind, "device_time": dt.datetime.now(dt.UTC).isoformat()}
                ).encode()
                status, secs, data, _ = call(
                    conn, "POST", f"/api/crew/stops/{stops[n % len(stops)]}/events/", auth, body
                )
                mine["event"].append(secs)
                if status not in (200, 201):
                    errors.append(f"event {status} {data[:120]!r}")
                n += 1
                time.sleep(args.think)
                if time.time() < warm_until:  # warming up: workers import and connect on first use
                    mine = {k: [] for k in lat}
            with lock:
                for k, v in mine.items():
                    lat[k].extend(v)

        def peer(until: float) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            mine = []
            while time.time() < until:
                for _ in range(3):
                    _, secs, _, _ = call(conn, "GET", "/api/layers/versions/", {})
                    mine.append(secs)
                time.sleep(args.think)
            with lock:
                lat["peer"].extend(mine)

        warm = time.time() + 5
        until = warm + args.seconds
        threads = [threading.Thread(target=crew_device, args=(tok, stops, until, warm)) for tok, stops in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        until = time.time() + args.seconds
        threads = [threading.Thread(target=peer, args=(until,)) for _ in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result = Result("field_api_load")
        ms = 1000.0
        result.add(
            "route pull (200, full route) p95",
            "ms",
            p95(lat["pull_200"]) * ms,
            p95(lat["peer"]) * ms,
            "minimal DRF list, same server",
            better="lower",
        )
        result.add(
            "route pull (304, unchanged) p95",
            "ms",
            p95(lat["pull_304"]) * ms,
            p95(lat["peer"]) * ms,
            "minimal DRF list, same server",
            better="lower",
        )
        result.add(
            "event POST p95",
            "ms",
            p95(lat["event"]) * ms,
            p95(lat["peer"]) * ms,
            "minimal DRF list, same server",
            better="lower",
        )
        result.add(
            "event POST throughput",
            "events/s",
            len(lat["event"]) / args.seconds,
            len(lat["peer"]) / args.seconds,
            "peer requests/s",
            better="higher",
        )
        stops_per_route = statistics.mean(len(s) for _, s in clients)
        result.notes.append(
            f"{args.clients} concurrent devices over {len(routes)} crews' routes "
            f"(mean {stops_per_route:.0f} stops), think {args.think:g} s, {args.seconds:.0f} s per "
            "phase, gunicorn "
            f"{args.workers} sync workers, 2 cores shared with the clients; errors: {len(errors)}"
        )
        result.notes.append("p50 ms: " + ", ".join(f"{k} {statistics.median(v) * ms:.1f}" for k, v in lat.items() if v))
        result.details = {"counts": {k: len(v) for k, v in lat.items()}, "errors": errors[:10]}
        result.print(args.json)
        return 0 if not errors else 1
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        drop_database_of(url)


if __name__ == "__main__":
    sys.exit(main())
