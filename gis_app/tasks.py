"""Celery tasks: thin wrappers over importable functions, with retries and back-off."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from gis_app import notifications, slas, webhooks


def _backoff(retries: int) -> float:
    return float(settings.RETRY_BASE_SECONDS) * (2**retries)


@shared_task(bind=True, max_retries=8)
def send_notification(self: Any, notification_id: int) -> str:
    try:
        return notifications.deliver(notification_id)
    except notifications.DeliveryError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task(bind=True, max_retries=8)
def deliver_webhook(self: Any, delivery_id: int) -> str:
    try:
        return webhooks.deliver(delivery_id)
    except webhooks.WebhookError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc


@shared_task
def check_slas() -> list[str]:
    return slas.run_sla_checks().lines()
