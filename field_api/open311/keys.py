"""Open311 clients: api_key authentication on POST and the rate limits (posts per key, reads per address)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from field_api.models import Open311Key, hash_token
from field_api.open311.render import Open311Error
from layers.memo import remembered

KEY_SEEN_EVERY = dt.timedelta(minutes=1)


class Open311Throttle(SimpleRateThrottle):
    """DRF's sliding-window throttle (the times of recent requests, kept in the cache) outside a DRF view:
    posts count per api_key (a leaked key cannot flood the queue from many addresses; guessing keys counts
    per address), reads per client address. A rate of "" turns a limit off."""

    def __init__(self, scope: str, rate: str) -> None:  # no super(): the rate comes from our settings
        self.scope, self.rate = scope, rate or None
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_cache_key(self, request: Any, view: Any) -> str:
        # A key counts on its own only when it is a live key: every guessed key shares the caller's address
        # bucket (else each guess would start a fresh count). The address is the socket's unless
        # TRUSTED_PROXIES says how many proxies' X-Forwarded-For entries to believe.
        key = _known_key(request) if self.scope == "post" else None
        live = key is not None and key.revoked_at is None
        who = f"key:{key.key_hash}" if live and key else f"addr:{self.get_ident(request)}"
        return f"open311:{self.scope}:{who}"


def _throttle(request: HttpRequest) -> None:
    if request.method == "POST":
        throttle = Open311Throttle("post", settings.OPEN311_POST_RATE)
    else:
        throttle = Open311Throttle("read", settings.OPEN311_READ_RATE)
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]  # no view: the key is ours
        wait = max(1, math.ceil(throttle.wait() or throttle.duration or 1))
        key = _known_key(request) if request.method == "POST" else None
        who = "this api_key" if key is not None and key.revoked_at is None else "this address"
        raise Open311Error(
            429, f"too many requests from {who}: at most {throttle.rate}; try again in {wait} s", retry_after=wait
        )


def _raw_key(request: HttpRequest) -> str:
    return request.POST.get("api_key", "").strip() or request.headers.get("X-Api-Key", "").strip()


def _keys_by_hash() -> dict[str, Open311Key]:
    """Every issued key by its hash: a few dozen apps, read on every post, so kept per process (layers.memo).
    Issuing or revoking a key saves it, which every process sees within CONFIG_MEMO_CHECK_SECONDS."""
    return {k.key_hash: k for k in Open311Key.objects.all()}


def _known_key(request: HttpRequest) -> Open311Key | None:
    """The stored key the request names (None for none or a guess), looked up once per request: the throttle
    and the authentication both ask."""
    if not hasattr(request, "_open311_key"):
        raw = _raw_key(request)
        found = remembered("open311:keys", _keys_by_hash).get(hash_token(raw)) if raw else None
        request._open311_key = found  # type: ignore[attr-defined]
    return request._open311_key  # type: ignore[attr-defined]


def _client(request: HttpRequest) -> Open311Key:
    if not _raw_key(request):
        raise Open311Error(403, "api_key is required to post a request; ask the city's 311 team for one")
    key = _known_key(request)
    if key is None:
        raise Open311Error(403, "api_key is not known here")
    if key.revoked_at is not None:
        raise Open311Error(
            403,
            f"this api_key was revoked on {timezone.localtime(key.revoked_at):%Y-%m-%d}; "
            "ask the city's 311 team for a new one",
        )
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > KEY_SEEN_EVERY:
        Open311Key.objects.filter(pk=key.pk).update(last_used_at=now)  # no signal: the kept keys stay kept
        key.last_used_at = now  # this process's copy: the next write is KEY_SEEN_EVERY away
    return key
