"""Findings 1, 2, 6 and 7 of the security review (issue 21), one test each: a secret per install, DEBUG off,
survey links that cannot be forged or reused, no 500 and no HTML page from hostile input on the APIs, throttles
that cannot be reset by a header or a guessed key, and safe headers. Actors: Mallory (an attacker with the
source code), Rosa (a resident who reported a pothole), Fixit (a resident app holding an Open311 key)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core import signing
from rest_framework.test import APIClient

from field_api.models import Open311Key
from gis_app.intake import IntakeData, create_request
from gis_app.models import RequestEvent, ServiceRequest
from gis_app.notifications import SURVEY_SALT, survey_token
from gis_app.settings import install_secret
from gis_app.transitions import apply
from layers.coords import point_from_lonlat

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**SETTINGS_ENV, "DJANGO_SETTINGS_MODULE": "gis_app.settings", **env},
        timeout=120,
    )


# ---- 1. secrets, DEBUG, survey links ---------------------------------------------------------------------


def tracked_text() -> str:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    out = []
    for name in files:
        path = ROOT / name
        if path.is_file() and path.stat().st_size < 2_000_000:
            out.append(path.read_bytes().decode("utf-8", "ignore"))
    return "\n".join(out)


def test_each_install_makes_its_own_secret_found_nowhere_in_the_repository(tmp_path: Path):
    key = install_secret(tmp_path / "var" / "secret-key")
    assert len(key) >= 50 and install_secret(tmp_path / "var" / "secret-key") == key  # made once, then kept
    assert (tmp_path / "var" / "secret-key").stat().st_mode & 0o077 == 0  # owner-only
    assert install_secret(tmp_path / "other" / "secret-key") != key
    assert key not in tracked_text()


def test_the_production_profile_refuses_to_start_without_a_secret_and_debug_is_off_by_default():
    refused = run_python("import django; django.setup()", DJANGO_PROFILE="production")
    assert refused.returncode != 0 and "DJANGO_SECRET_KEY must be set" in refused.stderr
    default = run_python("import django; django.setup(); from django.conf import settings; print(settings.DEBUG)")
    assert default.returncode == 0 and default.stdout.strip() == "False"


def test_check_deploy_is_clean_under_the_production_profile():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={
            **SETTINGS_ENV,
            "DJANGO_PROFILE": "production",
            "DJANGO_SECRET_KEY": "p" + base64.b64encode(os.urandom(48)).decode(),
            "DJANGO_ALLOWED_HOSTS": "311.example.org",
        },
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def rosas_done_pothole(two_square_wards, pothole):  # type: ignore[no-untyped-def]
    req = create_request(
        IntakeData(
            service_code="pothole",
            location=point_from_lonlat(0.5, 0.5),
            attributes={"where": "curb"},
            reporter_email="rosa@example.org",
            notify_via="email",
        )
    )
    return apply(req, "complete", note="patched", photos=1)


@pytest.mark.django_db
def test_mallory_cannot_forge_a_survey_link_with_a_key_from_the_code(client, rosas_done_pothole):
    forged = signing.dumps(
        {"ticket": rosas_done_pothole.ticket, "completion": 1},
        key="dev-only-insecure-key-set-DJANGO_SECRET_KEY-in-production",  # the key the code used to carry
        salt=SURVEY_SALT,
    )
    assert client.post(f"/survey/{forged}/", {"fixed": "yes"}).status_code == 400
    rosas_done_pothole.refresh_from_db()
    assert rosas_done_pothole.status == "completed"


@pytest.mark.django_db
def test_a_survey_link_works_once_and_only_for_the_completion_it_asks_about(client, rosas_done_pothole):
    first = RequestEvent.objects.get(request=rosas_done_pothole, verb="complete")
    first_link = f"/survey/{survey_token(rosas_done_pothole, first)}/"
    # Reopened and completed again: the first visit's link no longer speaks for the work.
    again = apply(apply(rosas_done_pothole, "reopen", note="failed inspection"), "complete", note="redone", photos=1)
    assert client.get(first_link).status_code == 410
    latest = RequestEvent.objects.filter(request=again, verb="complete").order_by("at", "id").last()
    link = f"/survey/{survey_token(again, latest)}/"
    assert client.post(link, {"fixed": "yes"}).status_code == 200
    assert client.post(link, {"fixed": "no"}).status_code == 410  # already answered: no follow-up opened
    assert not again.follow_ups.exists()


@pytest.mark.django_db
def test_a_survey_link_for_a_ticket_that_does_not_exist_is_a_404_not_a_500(client):
    token = signing.dumps({"ticket": "7KQ2-M9XD-4", "completion": 99}, salt=SURVEY_SALT)
    assert client.get(f"/survey/{token}/").status_code == 404


# ---- 2. hostile input: a clear 4xx, never a 500 or an HTML page on an API path ---------------------------


@pytest.mark.django_db
def test_a_nul_byte_in_a_basic_username_is_refused_and_basic_auth_is_off(client, dispatcher):
    nul = base64.b64encode(b"admin\x00:pw").decode()
    resp = client.get("/api/services/", HTTP_AUTHORIZATION=f"Basic {nul}")
    assert resp.status_code == 200  # the header is not read at all: the public list, no 500
    raw = client.get("/api/services/", HTTP_AUTHORIZATION="Basic admin\x00")
    assert raw.status_code == 400 and raw.json()["field"] == "Authorization"
    good = base64.b64encode(b"dispatcher:pw-for-tests-only").decode()
    answer = client.get("/api/requests/candidates/", HTTP_AUTHORIZATION=f"Basic {good}")
    assert answer.status_code in (401, 403)  # a password on the API is not a way in


@pytest.mark.django_db
def test_nul_in_open311_fields_and_queries_is_a_400_in_the_specs_shape(client, two_square_wards, pothole):
    _, key = Open311Key.issue("Fixit", "dev@fixit.example")
    fields = {"api_key": key, "service_code": "pothole", "lat": "0.5", "long": "0.5", "description": "hole\x00"}
    form = client.post("/open311/v2/requests.json", urlencode(fields), content_type="application/x-www-form-urlencoded")
    multipart = client.post("/open311/v2/requests.json", fields)
    query = client.get("/open311/v2/requests.json", {"service_code": "pot\x00hole"})
    for resp in (form, multipart, query):
        assert resp.status_code == 400, resp.content
        assert "NUL" in resp.json()[0]["description"] or "control characters" in resp.json()[0]["description"]
    assert not ServiceRequest.objects.exists()


@pytest.mark.django_db
def test_json_nested_fifty_thousand_deep_is_a_400(client, intake_clerk):
    client.force_login(intake_clerk)
    body = "[" * 50_000 + "]" * 50_000
    resp = client.post("/api/requests/", body, content_type="application/json")
    assert resp.status_code == 400 and "nest at most" in resp.json()["detail"]


def test_more_than_a_thousand_query_parameters_is_a_400(client):
    query = "&".join(f"p{i}=1" for i in range(1_001))
    resp = client.get(f"/api/services/?{query}")
    assert resp.status_code == 400 and "at most 1000 query parameters" in resp.json()["detail"]


def test_an_api_path_that_matches_nothing_answers_in_json(client):
    resp = client.get("/api/no-such-thing/")
    assert resp.status_code == 404 and resp["Content-Type"].startswith("application/json")
    assert resp.json()["code"] == "not_found"
    spec = client.get("/open311/v2/nothing.json")
    assert spec.status_code == 404 and spec.json()[0]["code"] == 404


# ---- 6. throttles: no fresh bucket from a header or a guessed key ----------------------------------------


@pytest.mark.django_db
def test_a_spoofed_forwarded_for_header_earns_no_fresh_read_bucket(client, settings):
    settings.OPEN311_READ_RATE = "2/minute"
    for i in range(2):
        assert client.get("/open311/v2/services.json", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code == 200
    assert client.get("/open311/v2/services.json", HTTP_X_FORWARDED_FOR="10.0.0.99").status_code == 429


@pytest.mark.django_db
def test_guessed_keys_share_the_callers_address_bucket(client, settings, two_square_wards, pothole):
    settings.OPEN311_POST_RATE = "2/hour"
    codes = [
        client.post("/open311/v2/requests.json", {"api_key": f"guess-{i}", "service_code": "pothole"}).status_code
        for i in range(3)
    ]
    assert codes == [403, 403, 429]  # each guess is refused, and the third is not even looked at


# ---- 7. headers ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_personal_data_is_never_stored_by_a_cache_and_browser_features_are_fenced(rosas_done_pothole, dispatcher):
    staff = APIClient()
    staff.force_authenticate(dispatcher)
    resp = staff.get(f"/api/requests/{rosas_done_pothole.ticket}/")
    assert resp.status_code == 200 and resp["Cache-Control"] == "no-store"
    assert "geolocation=(self)" in resp["Permissions-Policy"] and resp["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db(transaction=True)
def test_the_server_names_no_software_version(live_server):
    """Over real HTTP (the same wsgiref server `make demo` runs, which would say `WSGIServer/0.2 CPython/3.11`)."""
    with urllib.request.urlopen(live_server.url + "/track/") as response:
        banner = response.headers["Server"]
    assert banner == "gis311" and not re.search(r"python|wsgi|/\d", banner, re.IGNORECASE)
