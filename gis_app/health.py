"""Health: `/healthz` (the process answers), `/readyz` (it can serve: PostgreSQL, Redis, the layers in force),
and the middleware that turns a database that is away into a 503 with Retry-After instead of a 500 page.

Why a 503: while PostgreSQL restarts, every query fails with an OperationalError. A client (a resident's app,
a tablet's sync queue, a load balancer) reads 503 + Retry-After as "try again shortly" and keeps its request;
a 500 reads as a bug. Nothing is half-written: each request's writes are one transaction, rolled back by
PostgreSQL when the connection dies. The next request after the database is back gets a fresh connection
(CONN_HEALTH_CHECKS), so the web tier recovers by itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from layers.http import error_body
from layers.lookup import version_in_force
from layers.models import LayerKind

log = logging.getLogger(__name__)
UNAVAILABLE = (OperationalError, InterfaceError)


def unavailable(detail: str) -> JsonResponse:
    response = JsonResponse(error_body(detail, 503), status=503)
    response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailable:
    """503 + Retry-After when the database cannot be reached (restarting, failing over), for every page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except UNAVAILABLE as exc:  # raised outside a view (sessions, auth middleware) when the database is away
            return self._answer(exc)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, UNAVAILABLE):
            return self._answer(exception)
        return None

    def _answer(self, exc: Exception) -> HttpResponse:
        log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        connection.close_if_unusable_or_obsolete()
        return unavailable("the service is briefly unavailable (its database is restarting); try again shortly")


def _check(name: str, probe: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # a readiness probe reports any failure, it never raises
        return {"name": name, "ok": False, "detail": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
    return {"name": name, "ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), "detail": detail}


def _postgres() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchone()
    return "answered"


def _redis() -> str:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1)
    client.ping()
    return "answered"


def _layers() -> str:
    version = version_in_force(LayerKind.WARDS)
    return f"wards: {version.name}"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Live: the process answers (no database, no broker: a restart of those must not kill healthy workers)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Ready: PostgreSQL answers, the broker answers, a ward map is in force. 503 with each failing check named."""
    checks = [_check("postgresql", _postgres), _check("redis", _redis)]
    if checks[0]["ok"]:
        checks.append(_check("layers", _layers))
    else:
        checks.append({"name": "layers", "ok": False, "detail": "not checked: PostgreSQL did not answer"})
    ready = all(c["ok"] for c in checks)
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    response = JsonResponse(body, status=200 if ready else 503)
    if not ready:
        response["Retry-After"] = str(settings.RETRY_AFTER_SECONDS)
    return response
