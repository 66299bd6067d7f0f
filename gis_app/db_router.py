"""Read replicas for the reading pages: the council ward map, ward pages, reports and the planner read from
the `replica` database when one is configured (DATABASE_REPLICA_URL); everything else, and every write, uses
the primary.

Why only those pages: they run the heaviest aggregate queries and can read data a second or two old; intake,
dispatch and the crew API must see their own writes at once, so they stay on the primary. A request is marked
for the replica by `ReplicaForReading` (a middleware: a GET under READING_PREFIXES), held in a context
variable for that request only, so a thread or an async task never inherits another request's choice.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse

READING_PREFIXES = ("/council/", "/reports/", "/planner/")
REPLICA = "replica"
_reading: contextvars.ContextVar[bool] = contextvars.ContextVar("gis311_reading", default=False)


def replica_in_use() -> bool:
    return _reading.get() and REPLICA in settings.DATABASES


class ReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str:
        return REPLICA if replica_in_use() else "default"

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database, two ways in

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == "default"


def reading_alias() -> str:
    return REPLICA if replica_in_use() else "default"


def reading_connection() -> BaseDatabaseWrapper:
    """The connection for a reading page's raw SQL (the reports' aggregates): the replica when routed there."""
    return connections[reading_alias()]


class ReplicaForReading:
    """Marks a GET under READING_PREFIXES as a reading request for the router, for that request only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        reading = request.method in ("GET", "HEAD") and request.path.startswith(READING_PREFIXES)
        token = _reading.set(reading)
        try:
            return self.get_response(request)
        finally:
            _reading.reset(token)
