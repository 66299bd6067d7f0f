"""Outbound webhooks: a department's own work-order system follows its requests' events.

Each event becomes one delivery per active endpoint of the request's department: a JSON body signed
with HMAC-SHA256 over the exact bytes (header `X-Gis311-Signature: sha256=<hex>`), POSTed by a
background job and retried with back-off until a 2xx. No reporter contact data is ever sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gis_app import outbox
from gis_app.celery import RETRY_WHILE_DATABASE_AWAY, backoff_seconds
from gis_app.models import RequestEvent, WebhookDelivery, WebhookEndpoint
from layers.memo import remembered

SIGNATURE_HEADER = "X-Gis311-Signature"


class WebhookError(RuntimeError):
    pass


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """For receivers: does the signature header match these exact bytes?"""
    return hmac.compare_digest(sign(secret, body), header or "")


def payload(event: RequestEvent) -> str:
    req = event.request
    return json.dumps(
        {
            "event": {
                "id": event.pk,
                "verb": event.verb,
                "at": event.at.isoformat(),
                "old": event.old,
                "new": event.new,
                "note": event.note if event.public else "",
            },
            "request": {
                "ticket": req.ticket,
                "service_code": req.service_type.code,
                "status": req.status,
                "ward": req.ward_number,
                "address": req.address,
                "lon": req.location.x if req.location else None,
                "lat": req.location.y if req.location else None,
                "due_at": req.due_at.isoformat() if req.due_at else None,
            },
        },
        sort_keys=True,
    )


def active_endpoints() -> dict[int, list[WebhookEndpoint]]:
    """Active endpoints by department, remembered until one changes (layers.memo): every event asks."""

    def load() -> dict[int, list[WebhookEndpoint]]:
        found: dict[int, list[WebhookEndpoint]] = {}
        for endpoint in WebhookEndpoint.objects.filter(active=True).order_by("pk"):
            found.setdefault(endpoint.department_id, []).append(endpoint)
        return found

    return remembered("gis:webhook-endpoints", load)


def fan_out(event: RequestEvent) -> int:
    return fan_out_many([event])


def fan_out_many(events: list[RequestEvent]) -> int:
    """A delivery per event per active endpoint of the events' department (one query for the endpoints)."""
    if not events:
        return 0
    endpoints = active_endpoints().get(events[0].request.department_id, [])
    n = 0
    for event in events if endpoints else []:
        body = payload(event)
        for endpoint in endpoints:
            delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, payload=body)
            outbox.enqueue(deliver_webhook, delivery.pk)
            n += 1
    return n


def deliver(delivery_id: int) -> str:
    with transaction.atomic():
        d = WebhookDelivery.objects.select_for_update().select_related("endpoint").get(pk=delivery_id)
        if d.state != WebhookDelivery.State.PENDING:
            return "skipped"
        d.attempts += 1
        body = d.payload.encode()
        req = urllib.request.Request(
            d.endpoint.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(d.endpoint.secret, body),
                "X-Gis311-Delivery": str(d.pk),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as resp:
                d.last_status = resp.status
        except urllib.error.HTTPError as exc:
            d.last_status, d.last_error = exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            d.last_status, d.last_error = None, str(exc)[:2000]
        if d.last_status is not None and 200 <= d.last_status < 300:
            d.state, d.delivered_at, d.last_error = WebhookDelivery.State.DELIVERED, timezone.now(), ""
            d.save()
            return "delivered"
        if d.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            d.state = WebhookDelivery.State.FAILED
        d.save()
        if d.state == WebhookDelivery.State.FAILED:
            return "failed"
    raise WebhookError(f"delivery {delivery_id} to {d.endpoint.url} failed: {d.last_error}")


@shared_task(bind=True, max_retries=8, name="gis311.deliver_webhook", **RETRY_WHILE_DATABASE_AWAY)
def deliver_webhook(self: Any, delivery_id: int) -> str:
    """The background job behind `fan_out`: one POST, retried with back-off until a 2xx or the attempt limit."""
    try:
        return deliver(delivery_id)
    except WebhookError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
