"""Faults during load: nothing acknowledged is lost, nothing is sent twice, no 500.

    python benchmarks/faults.py [--json] [--rate 100] [--seconds 120]

Serves a throwaway copy of the demo database with gunicorn (5 workers), two Celery workers (prefork) and
beat (the outbox relay) on a Redis server of the benchmark's own, and sends Open311 intake at a fixed rate
(open loop, each POST with a unique description and an e-mail, so each request and its acknowledgement can
be counted). During the run: PostgreSQL is restarted twice (`pg_ctlcluster … restart`: the machine's server,
so stop the demo and run nothing else), the Redis server is stopped for 30 s, and a worker process is killed
in the middle of its work. Then the run drains and is counted: acknowledged (2xx) requests, how many of them
are stored (each must be stored exactly once), notifications sent and e-mails written (each once), errors by
status (503s are expected while the database restarts; 500s never). The peer column is the goal.
"""

from __future__ import annotations

import collections
import email
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from _common import ROOT, Result, copy_demo_database, drop_database_of, parser, setup_django_on
from django.db.models import Q
from intake_load import bodies, run_rate, serve, server_env

PG_CLUSTER = os.environ.get("PG_CLUSTER", "15 main").split()
REDELIVER_SECONDS = 90


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def restart_postgres() -> float:
    t0 = time.perf_counter()
    subprocess.run(["pg_ctlcluster", *PG_CLUSTER, "restart", "-m", "fast"], check=True)
    return time.perf_counter() - t0


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--seconds", type=float, default=120.0)
    args = p.parse_args()
    url = copy_demo_database("faultbench")
    if url is None:
        return 1
    mail = Path(tempfile.mkdtemp(prefix="gis311-faults-mail-"))
    redis_port = free_port()
    redis_cmd = ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"]
    redis = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL)
    env = server_env(
        url,
        CELERY_BROKER_URL=f"redis://127.0.0.1:{redis_port}/0",
        CACHE_URL=f"redis://127.0.0.1:{redis_port}/1",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail),
        OUTBOX_RELAY_SECONDS="2",
        OUTBOX_GRACE_SECONDS="2",
        # The broker keeps nothing on disk (the worst case): what it held when stopped is published again this
        # long after it was handed over, if no worker finished it (production waits 20 minutes).
        OUTBOX_REDELIVER_SECONDS=str(REDELIVER_SECONDS),
    )
    setup_django_on(url)
    from django.db import connections

    from field_api.models import Open311Key
    from gis_app.models import Notification, OutboxJob, ServiceRequest

    procs: list[subprocess.Popen[bytes]] = []
    try:
        _, key = Open311Key.issue("fault test", "faults@example.org")
        total = int(args.rate * args.seconds)
        tags = [uuid.uuid4().hex for _ in range(total)]
        payloads = []
        for body, tag in zip(bodies(total, key), tags, strict=True):
            form = dict(urllib.parse.parse_qsl(body.decode()))
            form.update(description=f"fault run {tag}", email=f"r-{tag}@example.org")
            payloads.append(urllib.parse.urlencode(form).encode())
        connections.close_all()
        procs.append(serve(env, 5))
        celery = [sys.executable, "-m", "celery", "-A", "gis_app"]
        for i in (1, 2):
            procs.append(
                subprocess.Popen(
                    [*celery, "worker", "--pool=prefork", "--concurrency=2", "-n", f"f{i}@%h", "--loglevel=error"],
                    env=env,
                    cwd=ROOT,
                )
            )
        procs.append(
            subprocess.Popen(
                [*celery, "beat", "--loglevel=error", "--schedule", str(mail.parent / f"beat-{redis_port}")],
                env=env,
                cwd=ROOT,
            )
        )
        time.sleep(4)
        events: list[str] = []
        outcome: dict[str, Any] = {}

        def load() -> None:
            outcome.update(run_rate("/open311/v2/requests.json", payloads, args.rate, args.seconds, 64))

        sender = threading.Thread(target=load)
        start = time.perf_counter()
        sender.start()

        def at(second: float) -> None:
            time.sleep(max(0.0, start + second - time.perf_counter()))

        at(args.seconds * 0.12)
        events.append(f"PostgreSQL restart 1: {restart_postgres():.1f} s")
        at(args.seconds * 0.30)
        redis.send_signal(signal.SIGTERM)
        redis.wait(10)
        events.append("Redis stopped")
        at(args.seconds * 0.30 + 30)
        redis = subprocess.Popen(redis_cmd, stdout=subprocess.DEVNULL)
        events.append("Redis started again after 30 s")
        at(args.seconds * 0.62)
        children = subprocess.run(["pgrep", "-f", "f1@"], capture_output=True, text=True).stdout.split()
        victim = children[-1] if children else ""
        if victim:
            os.kill(int(victim), signal.SIGKILL)
            events.append(f"worker process {victim} killed")
        at(args.seconds * 0.80)
        events.append(f"PostgreSQL restart 2: {restart_postgres():.1f} s")
        sender.join()
        drain_from = time.time()
        # Drain: the relay publishes what waited, the workers send. "Left unsent" means stuck, not slow: the
        # drain goes on while the backlog shrinks (a 2-core machine past saturation sends for minutes after the
        # run), and stops after 60 s without progress past the redeliver time, or 15 minutes in all.
        deadline, last, progress_at = time.time() + 900, -1, time.time()
        while time.time() < deadline and time.time() - progress_at < REDELIVER_SECONDS + 60:
            waiting = Notification.objects.filter(description_tag_filter(), state="pending").count()
            if not waiting:
                break
            if waiting != last:
                last, progress_at = waiting, time.time()
            time.sleep(2)
        events.append(f"drained {time.time() - drain_from:.0f} s after the run")
        stored = collections.Counter(
            ServiceRequest.objects.filter(description__startswith="fault run ").values_list("description", flat=True)
        )
        acknowledged = outcome.get("ok", 0)
        stored_once = sum(1 for n in stored.values() if n == 1)
        stored_twice = sum(1 for n in stored.values() if n > 1)
        notes = Notification.objects.filter(description_tag_filter())
        sent = notes.filter(state="sent").count()
        files = list(mail.glob("*.log"))
        # Each message as the mail server took it: (recipient, Message-ID). A message handed over again after
        # its row could not be marked sent (a worker killed, PostgreSQL restarting at the commit) carries the
        # same Message-ID (notifications.message_id), which mail systems treat as the same message.
        taken: collections.Counter[tuple[str, str]] = collections.Counter()
        for f in files:
            for raw in f.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if raw.strip():
                    msg = email.message_from_bytes(raw)
                    taken[(str(msg["To"] or "").strip(), str(msg["Message-ID"] or "").strip())] += 1
        recipients = collections.Counter(to for to, _ in taken.elements())
        distinct = collections.Counter(to for to, _ in taken)
        errors = outcome.get("errors", {})
        res = Result("faults")
        res.add(
            "acknowledged requests stored exactly once", "share", stored_once / max(1, int(acknowledged)), 1.0, "goal"
        )
        res.add("requests stored twice", "requests", stored_twice, 0, "goal", better="lower")
        res.add(
            "acknowledged requests not stored", "requests", int(acknowledged) - stored_once, 0, "goal", better="lower"
        )
        res.add(
            "notifications left unsent", "notifications", notes.exclude(state="sent").count(), 0, "goal", better="lower"
        )
        res.add(
            "different messages to one address (more than one)",
            "addresses",
            sum(1 for n in distinct.values() if n > 1),
            0,
            "goal",
            better="lower",
        )
        res.add(
            "  … one message handed to the mail server twice (same Message-ID)",
            "addresses",
            sum(1 for to, n in recipients.items() if n > distinct[to]),
            0,
            "goal",
            better="lower",
        )
        res.add("500 answers", "requests", int(errors.get("500", 0)), 0, "goal", better="lower")
        res.notes.extend(events)
        res.notes.append(
            f"sent {total} at {args.rate:g}/s: acknowledged {acknowledged}, errors by status {errors}, "
            f"stored {sum(stored.values())} rows for {len(stored)} descriptions, notifications {notes.count()} "
            f"(sent {sent}), e-mail files {len(files)} holding {sum(taken.values())} messages, "
            f"p95 {outcome.get('p95', 0):.0f} ms"
        )
        again = OutboxJob.objects.filter(task="gis311.send_notification", deliveries__gt=1).count()
        res.notes.append(f"notification jobs published again (taken by the broker, never finished): {again}")
        res.details = {"events": events, "load": outcome, "stored_once": stored_once, "sent": sent}
        res.print(args.json)
        return 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis.terminate()
        connections.close_all()
        drop_database_of(url)


def description_tag_filter() -> Q:
    """This run's notifications: those of the requests it filed."""
    return Q(request__description__startswith="fault run ")


if __name__ == "__main__":
    sys.exit(main())
