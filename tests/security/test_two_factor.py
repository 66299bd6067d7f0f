"""Finding 3 of the security review (issue 21), the rest: staff sign in with a password and then a code from an
authenticator app (django-otp). Actors: Dana the dispatcher, who sets up her phone; Mallory, who has Dana's
password but not her phone; Carl's crew tablet, which signs in with a device token and never sees this."""

from __future__ import annotations

import re
import time

import pytest
from django.test import override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.conftest import _user

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-only"


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code Dana's phone shows now (or one step later: a code is good once, so a second sign-in in the same
    30 seconds uses the next one, within the device's tolerance)."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead):06d}"


def sign_in(client, username: str = "dana"):  # type: ignore[no-untyped-def]
    response = client.post("/accounts/login/", {"username": username, "password": PASSWORD, "next": "/dispatch/"})
    assert response.status_code == 302
    return client.get("/dispatch/")


@pytest.fixture
def dana(db):  # type: ignore[no-untyped-def]
    return _user("dana", "dispatcher")


@pytest.fixture
def danas_phone(dana):  # type: ignore[no-untyped-def]
    return TOTPDevice.objects.create(user=dana, name="authenticator", confirmed=True)


@override_settings(STAFF_TWO_FACTOR="required")
def test_when_required_a_password_alone_reaches_only_the_set_up_page(client, dana):
    page = sign_in(client)
    assert page.status_code == 302 and page["Location"].startswith("/accounts/two-factor/?next=/dispatch/")
    api = client.get("/api/requests/NO-SUCH/")
    assert api.status_code == 403 and api.json()["field"] == "two_factor" and "code" in api.json()["detail"]
    setup = client.get(page["Location"])
    assert setup.status_code == 200 and b"<svg" in setup.content  # the QR code, drawn on our own host
    secret = re.search(rb'id="secret">([A-Z2-7=]+)<', setup.content)
    assert secret is not None
    pending = TOTPDevice.objects.get(user=dana, confirmed=False)
    assert client.get(page["Location"]).content.count(secret.group(1)) == 1  # a reload shows the same key

    wrong = client.post("/accounts/two-factor/", {"code": "000000" if code_for(pending) != "000000" else "111111"})
    assert wrong.status_code == 400 and b"wrong or has expired" in wrong.content
    assert client.get("/dispatch/").status_code == 302

    time.sleep(1.1)  # the wrong code above throttles the device for one second
    done = client.post("/accounts/two-factor/", {"code": code_for(pending), "next": "/dispatch/"})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", done.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert TOTPDevice.objects.get(pk=pending.pk).confirmed
    assert client.get("/dispatch/").status_code == 200
    assert client.get("/api/requests/NO-SUCH/").json().get("field") != "two_factor"  # past the gate


def test_once_set_up_the_code_is_asked_for_even_where_it_is_only_offered(client, danas_phone):
    assert sign_in(client).status_code == 302  # a password alone no longer opens Dana's account
    page = client.get("/accounts/two-factor/")
    assert b"Enter your code" in page.content and b"<svg" not in page.content  # no new key is shown
    client.post("/accounts/two-factor/", {"code": code_for(danas_phone), "next": "/dispatch/"})
    assert client.get("/dispatch/").status_code == 200


def test_a_code_works_once_and_guessing_is_slowed(client, danas_phone):
    sign_in(client)
    good = code_for(danas_phone)
    assert client.post("/accounts/two-factor/", {"code": good}).status_code == 302
    client.post("/accounts/logout/")

    sign_in(client)  # Mallory has the password and saw the code over Dana's shoulder: it is spent
    assert client.post("/accounts/two-factor/", {"code": good}).status_code == 400
    for guess in ("123456", "654321"):
        client.post("/accounts/two-factor/", {"code": guess})
    throttled = client.post("/accounts/two-factor/", {"code": code_for(danas_phone, 1)})
    assert throttled.status_code == 400 and b"too many wrong codes" in throttled.content
    assert client.get("/dispatch/").status_code == 302


def test_a_recovery_code_stands_in_for_a_lost_phone_once(client, danas_phone):
    device = StaticDevice.objects.create(user=danas_phone.user, name="recovery codes")
    StaticToken.objects.create(device=device, token="abcd2345")
    sign_in(client)
    assert client.post("/accounts/two-factor/", {"code": "abcd 2345"}).status_code == 302
    assert client.get("/dispatch/").status_code == 200
    client.post("/accounts/logout/")
    sign_in(client)
    assert client.post("/accounts/two-factor/", {"code": "abcd2345"}).status_code == 400


def test_the_next_address_after_the_code_stays_on_this_site(client, danas_phone):
    sign_in(client)
    response = client.post("/accounts/two-factor/", {"code": code_for(danas_phone), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"


@override_settings(STAFF_TWO_FACTOR="required")
def test_crew_tablets_and_open311_clients_are_not_asked_for_codes(client):
    assert client.get("/open311/v2/services.json").status_code == 200
    assert client.get("/api/crew/route/").status_code in (401, 403)  # a token is what it wants, not a code
    assert client.get("/track/").status_code == 200
