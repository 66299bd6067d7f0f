"""Configuration every request reads, kept in this process until anything in it changes.

Intake asks on every report which layer versions are in force, the service types with their questions, the
department rules, holidays, storms and webhook endpoints: a dozen queries for rows that change a few times a
year. `remembered(name, load)` keeps what `load()` returned under a configuration generation, a counter in the
shared cache (Redis in production) that any change to a watched model bumps, here at once and again after the
commit, so every web worker and machine drops its copies; each process reads the counter at most once per
`CONFIG_MEMO_CHECK_SECONDS` (default 1 s). Without a shared cache (one process: the tests, a laptop) copies live
`CONFIG_MEMO_LOCAL_SECONDS`; with the cache away nothing is kept and every read goes to PostgreSQL, which stays
the source of truth. Copies are also dropped after `CONFIG_MEMO_MAX_SECONDS` whatever the counter says (a
change rolled back after it was read, a bulk write that bypassed the signals). Values are shared between
requests: callers treat them as read-only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save

log = logging.getLogger(__name__)
T = TypeVar("T")
KEY = "gis311:config-generation"
AWAY_SECONDS = 10.0  # how long a process reads PostgreSQL without asking a cache that was away

_lock = threading.Lock()
_values: dict[str, tuple[int, float, Any]] = {}  # name -> (generation, loaded at, value)
_seen: dict[str, Any] = {"generation": None, "checked_at": float("-inf")}


def _shared() -> bool:
    return "locmem" not in str(settings.CACHES["default"]["BACKEND"]).lower()


def generation() -> int | None:
    """The configuration generation (None when the shared cache cannot be read: keep nothing)."""
    now = time.monotonic()
    wait = settings.CONFIG_MEMO_CHECK_SECONDS if _seen["generation"] is not None else AWAY_SECONDS
    if now - _seen["checked_at"] < wait:
        return _seen["generation"]
    try:
        # add() answers True (set now) or False (there already): None only from a cache that is away and
        # swallows the error (django-redis IGNORE_EXCEPTIONS), so one round trip tells an away cache.
        value = cache.get(KEY) if cache.add(KEY, 1, timeout=None) is not None else None
    except Exception as exc:  # a cache without IGNORE_EXCEPTIONS, or one that fails oddly
        log.warning("config memo: the shared cache cannot be read (%s); reading PostgreSQL", exc)
        value = None
    # With the cache away (each try waits out its connect timeout) the next AWAY_SECONDS of reads go straight
    # to PostgreSQL instead of waiting again.
    _seen.update(generation=None if value is None else int(value), checked_at=now)
    return _seen["generation"]


def remembered(name: str, load: Callable[[], T]) -> T:
    """`load()`'s value, from this process's copy while the configuration has not changed."""
    if not settings.CONFIG_MEMO:
        return load()
    gen = generation()
    if gen is None:
        return load()
    now = time.monotonic()
    limit = settings.CONFIG_MEMO_MAX_SECONDS if _shared() else settings.CONFIG_MEMO_LOCAL_SECONDS
    kept = _values.get(name)
    if kept is not None and kept[0] == gen and now - kept[1] < limit:
        return kept[2]
    value = load()
    with _lock:
        _values[name] = (gen, now, value)
    return value


def forget() -> None:
    """Drop this process's copies (a test's start; a change made here)."""
    with _lock:
        _values.clear()
        _seen.update(generation=None, checked_at=float("-inf"))


def _bump() -> None:
    try:
        if cache.add(KEY, 2, timeout=None) is False:
            cache.incr(KEY)
    except Exception as exc:
        log.warning("config memo: could not bump the generation (%s); other processes keep copies a while", exc)
    forget()


def changed(*_: Any, **__: Any) -> None:
    """Configuration changed: every process drops its copies now, and again once the change is committed
    (a process that read between the two would otherwise keep the rows from before the commit)."""
    _bump()
    transaction.on_commit(_bump, robust=True)


def watch(*models: type[Model]) -> None:
    """Bump the generation whenever a row of these models is saved or deleted."""
    for model in models:
        post_save.connect(changed, sender=model, dispatch_uid=f"memo-save-{model._meta.label}")
        post_delete.connect(changed, sender=model, dispatch_uid=f"memo-delete-{model._meta.label}")
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            assert through is not None  # Django makes one for every many-to-many field
            m2m_changed.connect(changed, sender=through, dispatch_uid=f"memo-m2m-{through._meta.label}")
