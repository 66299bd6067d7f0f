"""Intake under an open-loop load: requests sent at a fixed arrival rate against gunicorn over loopback.

    python benchmarks/intake_load.py [--json] [--rates 50,100,200,300] [--seconds 60] [--workers 3]

Open loop: request i is due at start + i / rate whatever happened to the ones before, and its latency is
measured from that due time, so a slow server cannot slow the client down and hide its own latency (a
closed loop would, by sending less). A pool of sender threads takes due requests in order; if all are busy,
the wait counts.

Bodies are Open311 POSTs as a resident's app sends them, drawn from the demo city: 60 % an address
("1234 N ASHLAND AVE", geocoded), 40 % a pin; each with an e-mail (a notification through the outbox); 15 %
repeat a request just sent (same type, same place: dedup links them). The peer is a minimal DRF create view
(one small row) on the same server, same rates. Runs on a throwaway copy of the demo database (stop the
demo server first); Open311's per-key limit is off for the run. Floor: 100 req/s at p95 ≤ 100 ms with no
errors; goal: 300 req/s at p95 ≤ 50 ms (2 cores, the client on the same machine).
"""

from __future__ import annotations

import http.client
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

from _common import ROOT, Result, copy_demo_database, drop_database_of, parser, setup_django_on

PORT = 8098
HERE = Path(__file__).resolve().parent


def quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 100 else max(values, default=float("nan"))


def bodies(n: int, key: str, seed: int = 7) -> list[bytes]:
    """Open311 form bodies from the demo city's own requests (types without required questions, or with
    their first answer), addresses with house numbers and pins."""
    from gis_app.models import ServiceAttribute, ServiceRequest, ServiceType

    rng = random.Random(seed)
    types = {t.pk: t for t in ServiceType.objects.filter(active=True, sensitive=False)}
    answers: dict[int, dict[str, str]] = {}
    for a in ServiceAttribute.objects.filter(required=True):
        values = a.values or [{"key": "1"}]
        answers.setdefault(a.service_type_id, {})[f"attribute[{a.code}]"] = str(values[0].get("key", "1"))
    # A seeded draw over the rows in a stable order: every run (and every commit compared) posts the same bodies.
    rows = list(
        ServiceRequest.objects.filter(location__isnull=False, service_type_id__in=list(types))
        .exclude(address="")
        .order_by("external_id", "requested_at", "address")
        .values_list("service_type_id", "address", "location")
    )
    rows = rng.sample(rows, min(5000, len(rows)))
    out: list[bytes] = []
    recent: list[dict[str, str]] = []
    for i in range(n):
        if recent and rng.random() < 0.15:
            form = dict(rng.choice(recent[-50:]))  # the same place and type again, as a neighbour reports it
        else:
            type_id, address, point = rng.choice(rows)
            form = {"service_code": types[type_id].code, **answers.get(type_id, {})}
            if (rng.random() < 0.6 and address[:1].isdigit()) or point is None:
                form["address_string"] = address
            else:
                form["lat"], form["long"] = f"{point.y:.6f}", f"{point.x:.6f}"
            form["description"] = "Reported from the load test"
            recent.append(form)
        form = {**form, "api_key": key, "email": f"resident{i}@example.org"}
        out.append(urllib.parse.urlencode(form).encode())
    return out


def run_rate(path: str, payloads: list[bytes], rate: float, seconds: float, senders: int) -> dict[str, Any]:
    """Send len = rate x seconds requests at `rate`; latency from each request's due time."""
    total = int(rate * seconds)
    due: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        mine: list[float] = []
        seen: dict[int, int] = {}
        while (item := due.get()) is not None:
            when, body = item
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                status = 0
            mine.append(time.perf_counter() - when)
            seen[status] = seen.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
            for k, v in seen.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for t in threads:
        t.start()
    start = time.perf_counter() + 0.2
    for i in range(total):
        when = start + i / rate
        pause = when - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        due.put((when, payloads[i % len(payloads)]))
    for _ in threads:
        due.put(None)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    return {
        "rate": rate,
        "sent": total,
        "ok": ok,
        "held": ok / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": quantile(latencies, 95) * 1000,
        "p99": quantile(latencies, 99) * 1000,
        "errors": {str(k): v for k, v in statuses.items() if not 200 <= k < 300},
        # 4xx: the server refused the body (an address the city's grid cannot place): answered, not failed.
        "failed": sum(v for k, v in statuses.items() if k == 0 or k >= 500),
    }


def serve(env: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gis_app" / "gunicorn_conf.py"), "gis_app.wsgi"],
        cwd=ROOT,
        env={
            **env,
            "HOST": "127.0.0.1",
            "PORT": str(PORT),
            "WEB_CONCURRENCY": str(workers),
            "WEB_ACCESS_LOG": "/dev/null",
        },
    )
    deadline = time.time() + 40
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not start")


def server_env(url: str, **extra: str) -> dict[str, str]:
    """A benchmark's gunicorn environment: the throwaway copy, DEBUG off as in production, Open311's per-key
    post limit off (a run posts tens of thousands from one key; a lifted limit would keep, and re-read on every
    post, every post's time of the last hour), static files from the apps (a copy has no collectstatic), the
    peer view mounted."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "peer_settings",
        "PYTHONPATH": f"{HERE}{os.pathsep}{ROOT}",
        "DJANGO_DEBUG": "0",
        "OPEN311_POST_RATE": "",
        "WHITENOISE_USE_FINDERS": "1",
        **extra,
    }


def stop(server: subprocess.Popen[bytes] | None) -> None:
    if server is not None:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--rates", default="50,100,200,300")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--workers", type=int, default=3, help="gunicorn workers (cores + 1, as gunicorn_conf sizes them)")
    p.add_argument("--senders", type=int, default=64, help="client threads taking due requests")
    args = p.parse_args()
    url = copy_demo_database("intakebench")
    if url is None:
        return 1
    env = server_env(url)
    setup_django_on(url)
    from django.db import connections

    from field_api.models import Open311Key
    from gis_app.models import ServiceRequest

    server = None
    try:
        _, key = Open311Key.issue("load test", "load@example.org")
        rates = [float(r) for r in args.rates.split(",")]
        payloads = bodies(int(max(rates) * args.seconds), key)
        before = ServiceRequest.objects.count()
        connections.close_all()
        server = serve(env, args.workers)
        warm = run_rate("/open311/v2/requests.json", payloads[-200:], 20, 3, args.senders)  # every worker starts
        ours, peer = [], []
        for rate in rates:
            ours.append(run_rate("/open311/v2/requests.json", payloads, rate, args.seconds, args.senders))
            peer.append(run_rate("/bench/peer/", [b"name=x"], rate, args.seconds, args.senders))
        stored = ServiceRequest.objects.count() - before
        res = Result("intake_load")
        for o, q in zip(ours, peer, strict=True):
            r = int(o["rate"])
            res.add(f"{r} req/s: held", "req/s", o["held"], q["held"], "minimal DRF create view")
            for k in ("p50", "p95", "p99"):
                res.add(f"{r} req/s: {k}", "ms", o[k], q[k], "minimal DRF create view", better="lower")
            res.add(
                f"{r} req/s: failed (5xx, no answer)",
                "requests",
                o["failed"],
                q["failed"],
                "minimal DRF create view",
                better="lower",
            )
            res.add(
                f"{r} req/s: refused (4xx, bad address)",
                "requests",
                sum(v for k, v in o["errors"].items() if k.startswith("4")),
                sum(v for k, v in q["errors"].items() if k.startswith("4")),
                "minimal DRF create view",
                better="lower",
            )
        floor = next((o for o in ours if o["rate"] == 100), None)
        res.notes.append(
            f"{args.seconds:g} s per rate, gunicorn {args.workers} sync workers, {args.senders} sender threads, "
            "2 cores shared by server, client and PostgreSQL"
        )
        if floor:
            met = floor["p95"] <= 100 and not floor["failed"]
            res.notes.append(f"floor (100 req/s, p95 ≤ 100 ms, no errors): {'met' if met else 'missed'}")
        acknowledged = warm["ok"] + sum(o["ok"] for o in ours)
        res.notes.append(f"acknowledged (2xx) {acknowledged}, stored {stored}: every acknowledged request is stored")
        res.details = {"ours": ours, "peer": peer, "stored": stored, "acknowledged": acknowledged}
        res.print(args.json)
        return 0
    finally:
        stop(server)
        connections.close_all()
        drop_database_of(url)


if __name__ == "__main__":
    sys.exit(main())
