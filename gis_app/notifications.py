"""Residents and departments hear back: messages composed here, sent by background jobs, never twice.

Each message is a Notification row whose idempotency key is unique (kind, request, event, recipient):
asking to send the same message again finds the row and does nothing. Sending happens in a Celery task
with retries and back-off; a message is marked sent under a row lock, so a retried or replayed task
never sends it twice. Email goes through Django's email backend (a file backend in development, SMTP
by settings); SMS through a pluggable backend (a file backend in development).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from celery import shared_task
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.utils import formats, timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from gis_app import outbox
from gis_app.celery import RETRY_WHILE_DATABASE_AWAY, backoff_seconds
from gis_app.choices import NotifyVia, public_status
from gis_app.models import Notification, RequestEvent, ServiceRequest, Subscription

SURVEY_SALT = "gis311.survey"


class DeliveryError(RuntimeError):
    """The channel refused or failed; the job retries with back-off."""


class SmsBackend(Protocol):
    def send(self, to: str, body: str, *, key: str) -> None:
        """Send one text. `key` is the message's idempotency key, the same on every attempt: an adapter passes it
        to its gateway's idempotency field (an Idempotency-Key header, a client reference the gateway refuses
        twice), so a worker killed between the gateway taking a text and our row saying so cannot send it twice,
        as the Message-ID does for e-mail."""
        ...


class FileSmsBackend:
    """Development SMS: one text file per message in settings.SMS_FILE_PATH, named by its idempotency key (a
    second attempt of one message replaces its file: the folder holds each message once, as a gateway that
    honours the key delivers it once)."""

    def send(self, to: str, body: str, *, key: str) -> None:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{hashlib.sha256(key.encode()).hexdigest()[:24]}-{''.join(ch for ch in to if ch.isalnum())}.txt"
        partial = folder / f".{name}.partial"
        partial.write_text(f"To: {to}\n\n{body}\n")
        partial.replace(folder / name)  # whole or not at all


def sms_backend() -> SmsBackend:
    backend: SmsBackend = import_string(settings.SMS_BACKEND)()
    return backend


def survey_token(request: ServiceRequest, completion: RequestEvent) -> str:
    """A signed link bound to one completion of one request (it expires, and works once: gis_app.public_views)."""
    return signing.dumps({"ticket": request.ticket, "completion": completion.pk}, salt=SURVEY_SALT)


def read_survey_token(token: str) -> tuple[str, int]:
    """(ticket, completion event id); signing.BadSignature (or SignatureExpired) when forged, altered or old."""
    data = signing.loads(token, salt=SURVEY_SALT, max_age=dt.timedelta(days=settings.SURVEY_MAX_AGE_DAYS))
    if not isinstance(data, dict) or not isinstance(data.get("completion"), int):
        raise signing.BadSignature("a survey link names its completion")
    return str(data["ticket"]), int(data["completion"])


def _local(when: dt.datetime | None) -> str:
    """A date and time in the city's zone, written the way the active language writes them."""
    return formats.date_format(timezone.localtime(when), "DATETIME_FORMAT") if when else _("as soon as we can")


def queue(
    request: ServiceRequest,
    *,
    kind: str,
    key: str,
    channel: str,
    to: str,
    subject: str,
    body: str,
    attachment: str = "",
) -> Notification | None:
    """Record a message and send it after commit; None if this exact message exists already."""
    if not to:
        return None
    note = Notification(
        request=request,
        idempotency_key=key,
        kind=kind,
        channel=channel,
        to=to,
        subject=subject[:200],
        body=body,
        attachment=attachment,
    )
    if not _insert_once(note):
        return None
    outbox.enqueue(send_notification, note.pk)  # with the message row: sent once the broker has it
    return note


def _insert_once(note: Notification) -> bool:
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING: one statement where get_or_create takes four (a read,
    a savepoint, the insert, its release), and two writers racing on one key still store it once."""
    fields = [f for f in Notification._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(note, True), connection) for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {Notification._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            values,
        )
        row = cur.fetchone()
    if row is None:
        return False
    note.pk = row[0]
    note._state.adding, note._state.db = False, connection.alias
    return True


Compose = Callable[[], tuple[str, str]]


def _to_subscribers(
    request: ServiceRequest,
    event: RequestEvent,
    kind: str,
    compose: Compose,
    attachment: str = "",
    subscriptions: list[Subscription] | None = None,
) -> int:
    """One message per subscribed person (the same address subscribed twice hears once), written in that
    person's language: `compose` is called under it and returns (subject, body). `subscriptions`: the request's,
    when the caller has just made them (intake), else they are read."""
    sent = 0
    seen: set[tuple[str, str]] = set()
    if subscriptions is None:
        subscriptions = list(Subscription.objects.filter(request=request).order_by("pk"))
    for sub in subscriptions:
        to = sub.email if sub.via == NotifyVia.EMAIL else sub.phone if sub.via == NotifyVia.SMS else ""
        if (sub.via, to.lower()) in seen:
            continue
        seen.add((sub.via, to.lower()))
        with translation.override(sub.language or settings.LANGUAGE_CODE):
            subject, body = compose()
            if sub.via == NotifyVia.SMS and attachment:
                # The after photo, as the public track page shows it (media files are never served as-is).
                body += "\n" + _("Photo: %(url)s") % {"url": f"{track_url(request)}proof.jpg"}
        if queue(
            request,
            kind=kind,
            key=f"{kind}:{request.pk}:{event.pk}:{sub.pk}",
            channel=sub.via,
            to=to,
            subject=subject,
            body=body,
            attachment=attachment if sub.via == NotifyVia.EMAIL else "",
        ):
            sent += 1
    return sent


def track_url(request: ServiceRequest) -> str:
    return f"{settings.SITE_URL}/track/{request.ticket}/"


def acknowledge(request: ServiceRequest, event: RequestEvent, subscriptions: list[Subscription] | None = None) -> int:
    def compose() -> tuple[str, str]:
        body = _(
            "We received your report: %(type)s.\nTicket number: %(ticket)s\nExpected by: %(due)s\nFollow it at %(url)s"
        ) % {
            "type": request.service_type.name,
            "ticket": request.ticket,
            "due": _local(request.due_at),
            "url": track_url(request),
        }
        subject = _("%(city)s 311: %(ticket)s received") % {"city": settings.CITY_NAME, "ticket": request.ticket}
        return subject, body

    return _to_subscribers(request, event, "acknowledgement", compose, subscriptions=subscriptions)


def on_event(request: ServiceRequest, verb: str, event: RequestEvent, attachment: str = "") -> int:
    """Messages an action causes: completion always (with the after photo, if any), other stages when the type
    asks for them."""
    if verb == "complete":
        survey = f"{settings.SITE_URL}/survey/{survey_token(request, event)}/"

        def completed() -> tuple[str, str]:
            body = _(
                "Your report %(ticket)s (%(type)s) was completed.\nWhat was done: %(note)s\n"
                "Is it fixed? Tell us in one click: %(survey)s"
            ) % {"ticket": request.ticket, "type": request.service_type.name, "note": event.note, "survey": survey}
            subject = _("%(city)s 311: %(ticket)s completed") % {"city": settings.CITY_NAME, "ticket": request.ticket}
            return subject, body

        return _to_subscribers(request, event, "completion", completed, attachment=attachment)
    if verb in (request.service_type.notify_stages or []):

        def update() -> tuple[str, str]:
            body = _("Update on %(ticket)s (%(type)s): %(status)s.\n%(url)s") % {
                "ticket": request.ticket,
                "type": request.service_type.name,
                "status": public_status(request.status),
                "url": track_url(request),
            }
            subject = _("%(city)s 311: %(ticket)s update") % {"city": settings.CITY_NAME, "ticket": request.ticket}
            return subject, body

        return _to_subscribers(request, event, f"stage:{verb}", update)
    return 0


def message_id(key: str) -> str:
    """The same Message-ID every time one notification is sent: should a crash between the mail server taking
    it and our row saying so send it again, mail servers and clients that honour Message-ID show it once."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1] or "localhost"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def deliver(notification_id: int) -> str:
    """Send one queued message. Returns 'sent', 'skipped' or 'failed'; raises DeliveryError to be retried.

    The attempt is recorded (and committed) before the error is raised, so retries count correctly.
    """
    error = ""
    with transaction.atomic():
        note = Notification.objects.select_for_update().get(pk=notification_id)
        if note.state != Notification.State.PENDING:
            return "skipped"
        note.attempts += 1
        try:
            if note.channel == NotifyVia.EMAIL:
                message = EmailMessage(
                    note.subject,
                    note.body,
                    settings.DEFAULT_FROM_EMAIL,
                    [note.to],
                    headers={"Message-ID": message_id(note.idempotency_key)},
                )
                photo = Path(settings.MEDIA_ROOT) / note.attachment if note.attachment else None
                if photo is not None and photo.is_file():
                    message.attach(photo.name, photo.read_bytes(), "image/jpeg")
                message.send(fail_silently=False)
            elif note.channel == NotifyVia.SMS:
                sms_backend().send(note.to, note.body, key=note.idempotency_key)
            else:
                raise DeliveryError(f"unknown channel {note.channel!r}")
        except Exception as exc:  # any backend failure is retried
            error = note.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if note.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                note.state = Notification.State.FAILED
        else:
            note.state = Notification.State.SENT
            note.sent_at = timezone.now()
        note.save(update_fields=["attempts", "last_error", "state", "sent_at"])
    if note.state == Notification.State.PENDING:
        raise DeliveryError(error)
    return "sent" if note.state == Notification.State.SENT else "failed"


def department_alert(request: ServiceRequest, *, level: str, to: str, extra: dict[str, Any] | None = None) -> None:
    subject = {
        "due_soon": "about to breach its SLA",
        "breached": "breached its SLA",
        "escalated": "breached its SLA (escalation)",
    }[level]
    body = (
        f"{request.ticket} {request.service_type.name} at {request.address or 'no address'} "
        f"({settings.CITY_DISTRICT_WORD} {request.ward_number}) was due {_local(request.due_at)} "
        f"and is {request.status}."
    )
    queue(
        request,
        kind=f"sla:{level}",
        key=f"sla:{level}:{request.pk}",
        channel=NotifyVia.EMAIL,
        to=to,
        subject=f"{request.ticket} {subject}",
        body=body,
    )


@shared_task(bind=True, max_retries=8, name="gis311.send_notification", **RETRY_WHILE_DATABASE_AWAY)
def send_notification(self: Any, notification_id: int) -> str:
    """The background job behind `queue`: send one message, retried with back-off on a DeliveryError."""
    try:
        return deliver(notification_id)
    except DeliveryError as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
