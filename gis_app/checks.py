"""System checks for the project's own set-up: the city's files and the job broker.

Each says what is wrong and how to fix it, so a new city's first `manage.py check` is a to-do list. The
boundary layers, PostGIS and GDAL checks live in layers/checks.py.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

CITY_FILES = ("CITY_LAYER_MANIFEST", "CITY_STREETS_MANIFEST", "CITY_311_MAPPING", "CITY_ASSUMPTIONS", "CITY_CREWS")
FIX_CITY = (
    "point the setting (an environment variable of the same name) at the city's file, or set CITY to a "
    "folder under fixtures/ that holds it"
)


@register("gis311")
def check_city_files(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every CITY_* file exists and parses (TOML); the grid file only where the city has one."""
    errors: list[CheckMessage] = []
    names = (
        list(CITY_FILES)
        + (["CITY_KNOWLEDGE"] if Path(settings.CITY_KNOWLEDGE).exists() else [])
        + (["CITY_GRID"] if settings.CITY_GRID_REQUIRED or Path(settings.CITY_GRID).exists() else [])
    )
    for name in names:
        path = Path(getattr(settings, name))
        if not path.is_file():
            errors.append(Error(f"{name} names {path}, which is not a file", hint=FIX_CITY, id="gis_app.E001"))
            continue
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            errors.append(
                Error(f"{name} ({path}) is not valid TOML: {exc}", hint="fix the file's syntax", id="gis_app.E002")
            )
    return errors


@register("gis311")
def check_broker(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The Celery broker answers (notifications, webhooks, the SLA job and planning runs go through it)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    url = settings.CELERY_BROKER_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except (redis.RedisError, ValueError) as exc:
        return [
            Warning(
                f"the job broker at {url} does not answer ({exc}): messages, webhooks and planning runs "
                "wait until it does",
                hint="start Redis (`make demo` and `make test` do) or set CELERY_BROKER_URL",
                id="gis_app.W001",
            )
        ]
    return []
