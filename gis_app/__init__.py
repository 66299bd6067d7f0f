"""gis_app: the project (settings, urls) and the request domain."""

from gis_app.celery import app as celery_app

__all__ = ["celery_app"]
