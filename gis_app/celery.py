"""The Celery app: Redis broker from settings, the SLA job on a beat schedule.

Each task is declared in the module that owns its work (settings.CELERY_IMPORTS lists them), never in a
"tasks" hub that domain modules would have to import back.
"""

from __future__ import annotations

import os

from celery import Celery
from django.conf import settings
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis_app.settings")

app = Celery("gis311")
app.config_from_object("django.conf:settings", namespace="CELERY")


def backoff_seconds(retries: int) -> float:
    """Retry delay for the n-th retry of a job: the base doubles each time (settings.RETRY_BASE_SECONDS)."""
    return float(settings.RETRY_BASE_SECONDS) * (2**retries)


# A job that meets the database restarting is retried (with growing waits), never failed: its row still says
# what is left to do, and the work is idempotent on it (benchmarks/faults.py found messages left pending).
DATABASE_AWAY = (OperationalError, InterfaceError)
RETRY_WHILE_DATABASE_AWAY = {
    "autoretry_for": DATABASE_AWAY,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
}
