"""Nothing lost when a part is down (issue 25). Each scenario runs in its own Python process against the test
database, so taking a part away there cannot disturb the rest of the suite:

- PostgreSQL goes away (every connection cut and refused, as during a restart) and comes back: clients get
  503 with Retry-After, never a 500 and never a half-written request, and the same process serves again by
  itself once the database is back.
- The broker (a Redis server of the test's own) is down: intake still succeeds, the notification waits in the
  outbox, and goes out exactly once when the broker is back.
- A worker is killed in the middle of a job: the job runs again and its message is sent once.

Actors: Rosa, a resident whose app files through Open311."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.mail.backends.filebased import EmailBackend
from django.db import connection

from field_api.models import Open311Key
from gis_app.models import Notification, ServiceRequest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.heavy,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is missing (make test installs it)"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_scenario(script: str, **env: str) -> dict:
    """Run a scenario script in a fresh process on the test database; its last line is a JSON report."""
    db = connection.settings_dict
    url = f"postgis://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    full = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=url, PYTHONPATH=str(ROOT), **env)
    command = [sys.executable, "-c", script]
    out = subprocess.run(command, env=full, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture
def rosas_app(two_square_wards, pothole) -> str:  # type: ignore[no-untyped-def]
    return Open311Key.issue("Rosa's app", "dev@rosa.example")[1]


DATABASE_AWAY = r'''
import json, socket, threading
import django
from django.conf import settings

class Proxy:
    """A TCP relay to PostgreSQL that can cut every connection and refuse new ones, as a restart does."""
    def __init__(self, host, port):
        self.target, self.down, self.socks = (host, port), False, []
        self.listener = socket.socket(); self.listener.bind(("127.0.0.1", 0)); self.listener.listen(50)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()
    def accept(self):
        while True:
            client, _ = self.listener.accept()
            if self.down:
                client.close(); continue
            upstream = socket.create_connection(self.target)
            self.socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()
    def pump(self, a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try: s.close()
                except OSError: pass
    def cut(self):
        self.down = True
        for s in self.socks:
            try: s.shutdown(socket.SHUT_RDWR); s.close()
            except OSError: pass
        self.socks = []
    def restore(self):
        self.down = False

db = settings.DATABASES["default"]
proxy = Proxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
db["HOST"], db["PORT"] = "127.0.0.1", str(proxy.port)
django.setup()
from django.test import Client
from gis_app.models import ServiceRequest
import sys
key = sys.argv[1]
c = Client()
report = {}
def post():
    return c.post("/open311/v2/requests.json", {"api_key": key, "service_code": "pothole", "lat": "0.5",
                  "long": "0.5", "attribute[where]": "lane", "description": "Hole"})
report["before"] = [c.get("/api/services/").status_code, post().status_code]
proxy.cut()
services, posted, ready, alive = c.get("/api/services/"), post(), c.get("/readyz"), c.get("/healthz")
report["away"] = {
    "services": [services.status_code, services.get("Retry-After"), services.json().get("detail", "")],
    "post": [posted.status_code, posted.get("Retry-After")],
    "ready": [ready.status_code, [x["name"] for x in ready.json()["checks"] if not x["ok"]]],
    "alive": alive.status_code,
}
proxy.restore()
report["back"] = [c.get("/api/services/").status_code, post().status_code, c.get("/readyz").status_code]
report["stored"] = ServiceRequest.objects.count()
print(json.dumps(report))
'''


def test_a_database_restart_answers_503_loses_nothing_and_recovers_by_itself(rosas_app):
    script = DATABASE_AWAY.replace("sys.argv[1]", repr(rosas_app))
    report = run_scenario(script, TEST_CONN_MAX_AGE="60")
    assert report["before"] == [200, 201]
    away = report["away"]
    assert away["services"][0] == 503 and away["services"][1] == "5" and "try again shortly" in away["services"][2]
    assert away["post"] == [503, "5"]  # refused whole: nothing half-written
    assert away["ready"] == [503, ["postgresql", "layers"]] and away["alive"] == 200
    assert report["back"] == [200, 201, 200]  # the same process serves again, with no restart of its own
    assert report["stored"] == 2 == ServiceRequest.objects.count()  # the two accepted, not the refused one


@pytest.fixture
def own_redis():  # type: ignore[no-untyped-def]
    """A Redis server of the test's own (the suite's shared one is never stopped); start() and stop() it."""

    class Server:
        port = free_port()
        proc: subprocess.Popen | None = None

        def start(self) -> None:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                    return
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError("redis-server did not start")

        def stop(self) -> None:
            if self.proc:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(10)
                self.proc = None

    server = Server()
    yield server
    server.stop()


BROKER_AWAY = r"""
import json, subprocess, sys, time
import django
django.setup()
from django.core import mail
from django.test import Client
from celery.contrib.testing.worker import start_worker
from gis_app.celery import app
from gis_app.models import Notification
from gis_app.outbox import OutboxJob, relay
app.conf.task_always_eager = False
key, port = sys.argv[1], int(sys.argv[2])
report = {}
Client().get("/open311/v2/services.json")  # a warm process: the timing below is the broker's, not the imports'
started = time.perf_counter()
posted = Client().post("/open311/v2/requests.json", {"api_key": key, "service_code": "pothole", "lat": "0.5",
    "long": "0.5", "attribute[where]": "lane", "email": "rosa@example.org", "description": "Hole"})
report["intake"] = [posted.status_code, round(time.perf_counter() - started, 2)]
job = OutboxJob.objects.get()
report["waiting"] = [job.published_at is None, job.last_error.split(":")[0]]
report["relay_while_down"] = relay(older_than_seconds=0)
server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                          stdout=subprocess.DEVNULL)
time.sleep(0.5)
try:
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        report["relay_when_back"] = relay(older_than_seconds=0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and Notification.objects.get().state != "sent":
            time.sleep(0.1)
        # The same job handed over again (a relay racing a slow after-commit hand-off): still one message.
        app.tasks[job.task].apply_async(args=job.args)
        time.sleep(1.5)
        report["relay_again"] = relay(older_than_seconds=0)
finally:
    server.terminate(); server.wait(10)
report["state"] = Notification.objects.get().state
report["mails"] = [m.to for m in mail.outbox]
print(json.dumps(report))
"""


def test_with_the_broker_down_intake_succeeds_and_the_message_goes_out_once_when_it_is_back(rosas_app):
    port = free_port()
    script = BROKER_AWAY.replace("sys.argv[1]", repr(rosas_app)).replace("sys.argv[2]", repr(str(port)))
    report = run_scenario(
        script, TEST_BROKER_URL=f"redis://127.0.0.1:{port}/0", CACHE_URL=f"redis://127.0.0.1:{port}/1"
    )
    assert report["intake"][0] == 201 and report["intake"][1] < 5  # no long wait on a broker that is away
    assert report["waiting"] == [True, "OperationalError"]
    nothing_lost = {"redelivered": 0, "given_up": 0}
    assert report["relay_while_down"] == {"published": 0, "waiting": 1, **nothing_lost}
    assert report["relay_when_back"] == {"published": 1, "waiting": 0, **nothing_lost}
    assert report["relay_again"] == {"published": 0, "waiting": 0, **nothing_lost}
    assert report["state"] == "sent" and report["mails"] == [["rosa@example.org"]]  # exactly once
    assert Notification.objects.get().sent_at is not None


def test_a_worker_killed_mid_job_is_replaced_and_the_job_runs_once(rosas_app, own_redis, tmp_path):
    """A real worker process (prefork) whose child dies while sending the e-mail: the job is handed back at
    once, runs again, and the message goes out once."""
    own_redis.start()
    broker = f"redis://127.0.0.1:{own_redis.port}/0"
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=f"postgis://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        TEST_BROKER_URL=broker,
        CELERY_TASK_ALWAYS_EAGER="0",
        TEST_EMAIL_BACKEND="tests.test_faults.DyingOnceMail",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        DYING_MARK=str(tmp_path / "died-once"),
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "gis_app", "worker", "--pool=prefork", "--concurrency=1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        script = (
            "import django, sys\ndjango.setup()\n"
            "from gis_app.celery import app\napp.conf.task_always_eager = False\n"
            "from django.test import Client\n"
            f"r = Client().post('/open311/v2/requests.json', {{'api_key': {rosas_app!r}, 'service_code': 'pothole', "
            "'lat': '0.5', 'long': '0.5', 'attribute[where]': 'lane', 'email': 'rosa@example.org', "
            "'description': 'Hole'})\nprint('{\"status\": %d}' % r.status_code)\n"
        )
        assert run_scenario(script, TEST_BROKER_URL=broker)["status"] == 201
        note = Notification.objects.get()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and note.state != Notification.State.SENT:
            time.sleep(0.2)
            note.refresh_from_db()
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert (tmp_path / "died-once").exists()  # the first try's process died in the middle of the send
    assert note.state == Notification.State.SENT
    assert len(list((tmp_path / "mail").iterdir())) == 1  # sent once


class DyingOnceMail(EmailBackend):
    """A mail server whose first use kills the worker process that makes it (as an out-of-memory kill or a lost
    machine would), before anything is sent; then Django's file backend, one file per message."""

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        mark = Path(os.environ["DYING_MARK"])
        if not mark.exists():
            mark.write_text("died")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().send_messages(email_messages)
