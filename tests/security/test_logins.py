"""Finding 3 of the security review (issue 21), in part: password guessing is limited per account and per
address on the staff sign-in and the admin's, and passwords follow a policy. Actors: Dana the dispatcher, and
Mallory guessing from one address."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.conftest import _user

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-only"


def sign_in(client, username: str, password: str, url: str = "/accounts/login/", ip: str = "203.0.113.7"):  # type: ignore[no-untyped-def]
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_five_wrong_passwords_lock_the_account_even_from_new_addresses(client):
    _user("dana", "dispatcher")
    for i in range(4):
        assert sign_in(client, "dana", f"guess-{i}", ip=f"198.51.100.{i}").status_code == 200  # the form again
    assert sign_in(client, "dana", "guess-4", ip="198.51.100.4").status_code == 429  # the fifth locks
    locked = sign_in(client, "dana", PASSWORD, ip="192.0.2.50")
    assert locked.status_code == 429 and "_auth_user_id" not in client.session


def test_guessing_many_accounts_from_one_address_locks_that_address(client):
    _user("dana", "dispatcher")
    for name in ("alice", "bob", "carol", "dave", "erin"):
        sign_in(client, name, "password1")
    assert sign_in(client, "dana", PASSWORD).status_code == 429  # Mallory's address, a real account
    assert sign_in(client, "dana", PASSWORD, ip="192.0.2.99").status_code == 302  # Dana, from her desk


def test_the_admin_sign_in_is_limited_the_same_way(client):
    _user("dana", "dispatcher")
    for i in range(5):
        sign_in(client, "dana", f"guess-{i}", url="/admin/login/")
    assert sign_in(client, "dana", PASSWORD, url="/admin/login/").status_code == 429


def test_a_spoofed_forwarded_for_header_does_not_reset_the_count(client):
    _user("dana", "dispatcher")
    for i in range(5):
        client.post(
            "/accounts/login/",
            {"username": f"user{i}", "password": "x"},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"10.9.9.{i}",
        )
    assert sign_in(client, "dana", PASSWORD).status_code == 429


def test_short_and_common_passwords_are_refused():
    for weak in ("short1", "password1234", "123456789012"):
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("ward-map-lantern-42")
