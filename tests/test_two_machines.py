"""More than one machine (issue 25): two web servers (gunicorn) and two Celery workers share one database and
one broker and nothing else. A light filed on web A is read on web B, planned by the dispatcher on web B
(the plan runs on whichever worker takes it), completed by Crew Bravo's tablet on web A, and read as done on
web B; the resident hears twice (filed, fixed), once each. The dispatcher signs in once: her session lives
in the database, so either server knows her.

Actors: Rosa's app (Open311), Dana the dispatcher, Crew Bravo's tablet."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from field_api.models import DeviceToken, Open311Key
from tests.conftest import GRID_LAT0, GRID_LON0, GRID_STEP, wait_until
from tests.test_faults import free_port, own_redis  # noqa: F401  (the test's own Redis)

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.heavy]


class Web:
    def __init__(self, port: int) -> None:
        self.port = port

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, dict(resp.getheaders()), data


@pytest.fixture
def two_of_each(open_work, dispatcher, own_redis, tmp_path):  # type: ignore[no-untyped-def]  # noqa: F811
    """Two gunicorn servers and two workers on the test database and the test's own Redis."""
    own_redis.start()
    db = connection.settings_dict
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=f"postgis://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        TEST_BROKER_URL=f"redis://127.0.0.1:{own_redis.port}/0",
        CACHE_URL=f"redis://127.0.0.1:{own_redis.port}/1",
        TEST_EAGER="0",
        TEST_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(tmp_path / "mail"),
        WHITENOISE_USE_FINDERS="1",
        WEB_CONCURRENCY="1",
        WEB_ACCESS_LOG="/dev/null",
    )
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gis_app/gunicorn_conf.py", "gis_app.wsgi"],
            env={**env, "PORT": str(port)},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ] + [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "gis_app", "worker", "--pool=solo", "-n", f"w{i}@%h"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in (1, 2)
    ]
    webs = [Web(p) for p in ports]
    try:
        for web in webs:
            wait_until(lambda web=web: _alive(web), 40)
        yield webs[0], webs[1], tmp_path / "mail"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def _alive(web: Web) -> bool:
    try:
        return web.call("GET", "/healthz")[0] == 200
    except OSError:
        return False


def test_a_request_filed_on_one_server_is_planned_and_completed_through_the_other(two_of_each, dispatcher, crews):
    a, b, mail = two_of_each
    key = Open311Key.issue("Rosa's app", "dev@rosa.example")[1]
    _, device = DeviceToken.issue(crews["bravo"], "Bravo tablet")  # Bravo does the electrical work
    session = Client()
    session.force_login(dispatcher)  # a session row in the database: good on either server
    csrf = uuid.uuid4().hex  # double-submit: the same secret as cookie and header
    cookie = {"Cookie": f"sessionid={session.cookies['sessionid'].value}; csrftoken={csrf}", "X-CSRFToken": csrf}

    # Filed on A (a light: electrical work), read on B.
    lat, lon = GRID_LAT0 + 2 * GRID_STEP, GRID_LON0 + 2.5 * GRID_STEP
    form = {"api_key": key, "service_code": "light", "lat": str(lat), "long": str(lon), "email": "rosa@example.org"}
    status, _, body = a.call(
        "POST",
        "/open311/v2/requests.json",
        urllib.parse.urlencode(form).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 201, body
    sr_id = json.loads(body)[0]["service_request_id"]
    status, _, body = b.call("GET", f"/open311/v2/requests/{sr_id}.json")
    assert status == 200 and json.loads(body)[0]["status"] == "open"

    # Planned through B: the run goes through the outbox to the broker and one of the two workers.
    today = timezone.localdate().isoformat()
    run = urllib.parse.urlencode({"date": today, "department": "streets", "time_limit": "2"}).encode()
    status, headers, _ = b.call(
        "POST", "/dispatch/run/", run, {**cookie, "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 302 and "run=" in headers["Location"], headers
    run_id = headers["Location"].split("run=")[1]
    done = wait_until(lambda: _run_done(a, run_id, cookie), 90)  # asked of A: the run's row is shared
    status, _, _ = a.call("POST", f"/dispatch/plans/{done['plan']}/publish/", b"", cookie)
    assert status == 302

    # Bravo's tablet on A pulls the route and completes the light; B reads it closed.
    tablet = {"Authorization": f"Device {device}", "Content-Type": "application/json"}
    status, _, body = a.call("GET", "/api/crew/route/", headers=tablet)
    assert status == 200, body
    stop = next(s for s in json.loads(body)["stops"] if s["ticket"] == sr_id)
    event = {
        "id": str(uuid.uuid4()),
        "kind": "completed",
        "note": "New lamp",
        "device_time": timezone.now().isoformat(),
    }
    status, _, body = a.call("POST", f"/api/crew/stops/{stop['id']}/events/", json.dumps(event).encode(), tablet)
    assert status == 201, body
    status, _, body = b.call("GET", f"/open311/v2/requests/{sr_id}.json")
    assert json.loads(body)[0]["status"] == "closed"

    # Rosa heard twice (received, completed), each once, from whichever worker sent it.
    messages = wait_until(lambda: (lambda m: m if len(m) >= 2 else None)(sorted(mail.glob("*"))), 60)
    time.sleep(1)
    texts = [p.read_text() for p in sorted(mail.glob("*"))]
    assert len(texts) == 2 == len(messages)
    assert sum("received" in t for t in texts) == 1 and sum("completed" in t for t in texts) == 1


def _run_done(web: Web, run_id: str, cookie: dict[str, str]) -> dict | None:
    status, _, body = web.call("GET", f"/dispatch/runs/{run_id}.json", headers=cookie)
    state = json.loads(body) if status == 200 else {}
    assert state.get("state") != "failed", state
    return state if state.get("state") == "done" else None
