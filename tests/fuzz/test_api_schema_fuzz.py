"""schemathesis over /api/schema/, anonymous and signed in as each role: no input gives a server error, and no
answer breaks the schema it is described by (the Open311 JSON endpoints included: field_api/open311/openapi.py).

Not part of `make test` (marker `fuzz`, deselected there to keep the suite inside its time budget): run it
with `make fuzz-api` (FUZZ_EXAMPLES cases per operation and phase, 40 unless set). The server is the real
WSGI server, gunicorn, on the test database (a small city with a published plan, committed so the server's
processes see it): the development server's own HTTP parser drops some hostile requests before Django sees
them, which would hide what production does. Each role's requests carry a real session cookie with its CSRF
token, or the crew tablet's device token, so signed-in writes are tried with generated bodies, not stopped
at the door.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from field_api.models import DeviceToken
from routing.planning import plan_day
from tests.conftest import _user

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db(transaction=True)]
ROLES = ["anonymous", "intake clerk", "dispatcher", "council member", "planner", "administrator", "crew tablet"]
CSRF = "fuzzcsrftokenfuzzcsrftokenfuzz32"  # any 32 letters: Django compares the header with the cookie


@pytest.fixture
def small_city(open_work, streets_dept, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return plan_day(timezone.localdate(), streets_dept, time_limit=1, publish=True).plan


@pytest.fixture
def gunicorn(small_city, tmp_path: Path) -> Iterator[str]:
    """The project served by gunicorn on the test database; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_MEDIA_ROOT": str(tmp_path / "media"),
        "SMS_FILE_PATH": str(tmp_path / "sms"),
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
    }
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115  (closed when the server stops)
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "gis_app.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/api/schema/", timeout=2).close()
                break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def headers_for(role: str, crews: dict) -> list[str]:  # type: ignore[type-arg]
    if role == "anonymous":
        return []
    if role == "crew tablet":
        _, raw = DeviceToken.issue(crews["alpha"], "Fuzzed tablet")
        return ["-H", f"Authorization: Device {raw}"]
    client = Client()
    client.force_login(_user(f"fuzz_{role.replace(' ', '_')}", role))
    session = client.cookies["sessionid"].value
    return ["-H", f"Cookie: sessionid={session}; csrftoken={CSRF}", "-H", f"X-CSRFToken: {CSRF}"]


@pytest.mark.parametrize("role", ROLES)
def test_no_generated_request_gets_a_server_error(role, gunicorn, crews, tmp_path: Path):  # type: ignore[no-untyped-def]
    examples = os.environ.get("FUZZ_EXAMPLES", "40")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{gunicorn}/api/schema/",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--max-examples",
        examples,
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        os.environ.get("FUZZ_SEED", "311"),
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        "--no-color",
        *headers_for(role, crews),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    out = run.stdout + run.stderr
    tail = out[-6000:]
    print(f"\n--- {role} ---\n{tail}")
    summary = re.findall(r"(\d+) generated", out)
    assert summary, f"schemathesis printed no summary:\n{tail}"
    server_log = (tmp_path / "gunicorn.log").read_text()[-6000:] if (tmp_path / "gunicorn.log").exists() else ""
    assert run.returncode == 0, f"server errors for {role}:\n{tail}\n--- the server's log ---\n{server_log}"
