"""The Celery app: Redis broker from settings, tasks from every app, the SLA job on a beat schedule."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gis_app.settings")

app = Celery("gis311")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
