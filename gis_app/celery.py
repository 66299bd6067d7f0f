"""The Celery app: Redis broker from settings, the SLA job on a beat schedule.

Each task is declared in the module that owns its work (settings.CELERY_IMPORTS lists them), never in a
"tasks" hub that domain modules would have to import back.
"""

from __future__ import annotations

import os

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis_app.settings")

app = Celery("gis311")
app.config_from_object("django.conf:settings", namespace="CELERY")


def backoff_seconds(retries: int) -> float:
    """Retry delay for the n-th retry of a job: the base doubles each time (settings.RETRY_BASE_SECONDS)."""
    return float(settings.RETRY_BASE_SECONDS) * (2**retries)
