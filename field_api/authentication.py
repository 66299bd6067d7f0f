"""Device-token authentication for crew tablets: `Authorization: Device <token>`.

Tokens are stored as SHA-256 hashes (a database leak does not leak keys); revoked tokens are refused
with a message that says so; last-seen time is written at most once a minute (not a write per request).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from field_api.models import DeviceToken, hash_token

KEYWORD = "Device"
SEEN_EVERY = dt.timedelta(minutes=1)


class CrewDevice:
    """The authenticated principal of a tablet: its crew, never a person's account."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    pk = None

    def __init__(self, token: DeviceToken) -> None:
        self.token = token
        self.crew = token.crew
        self.crew_id = token.crew_id

    def __str__(self) -> str:
        return f"device {self.token.name} of {self.crew.name}"


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[CrewDevice, DeviceToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, raw = header.partition(" ")
        if keyword != KEYWORD:
            return None
        raw = raw.strip()
        if not raw:
            raise exceptions.AuthenticationFailed("Authorization: Device <token> needs the token")
        token = (
            DeviceToken.objects.select_related("crew")
            .filter(key_hash=hash_token(raw))
            .only("id", "name", "prefix", "revoked_at", "last_seen_at", "crew_id", "crew__name", "crew__code")
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("unknown device token")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                f"this device token was revoked at {timezone.localtime(token.revoked_at):%Y-%m-%d %H:%M}; "
                "ask an administrator for a new one"
            )
        now = timezone.now()
        if token.last_seen_at is None or now - token.last_seen_at > SEEN_EVERY:
            DeviceToken.objects.filter(pk=token.pk).update(last_seen_at=now)
        return CrewDevice(token), token

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD

    @staticmethod
    def describe() -> dict[str, Any]:
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Device <token>"}
