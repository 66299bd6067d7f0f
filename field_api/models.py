"""Crew devices and what they send: device tokens, stop events (idempotent by client UUID), photos.

A stop's field status is a fold of its events in device-time order (ties by server receipt), so events
that arrive late, twice or out of order give the same answer as if they had arrived in order; the fold
lives in field_api.crew.events. Events are never deleted or rewritten except for their computed outcome.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Func, Value
from django.utils import timezone

from gis_app.models import ServiceRequest
from routing.models import Crew, EventKind, Outcome, ReasonCode, Stop

TOKEN_PREFIX_LENGTH = 8


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class IssuedKey(models.Model):
    """A secret handed to a machine (a crew tablet, an Open311 client): shown once when issued, stored as a
    SHA-256 hash with a short prefix to tell keys apart, revocable. `new_key` makes the raw secret and the
    stored fields; each kind of key adds who it belongs to."""

    prefix = models.CharField(max_length=TOKEN_PREFIX_LENGTH, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    @staticmethod
    def new_key(nbytes: int) -> tuple[str, dict[str, str]]:
        """A raw secret and the fields that store it (its prefix and hash, never itself)."""
        raw = secrets.token_urlsafe(nbytes)
        return raw, {"prefix": raw[:TOKEN_PREFIX_LENGTH], "key_hash": hash_token(raw)}

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class DeviceTokenQuerySet(models.QuerySet["DeviceToken"]):
    def live(self) -> DeviceTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class DeviceToken(IssuedKey):
    """A crew tablet's key: shown once when issued, stored hashed, revocable, with last-seen time."""

    crew = models.ForeignKey(Crew, on_delete=models.CASCADE, related_name="device_tokens")
    name = models.CharField(max_length=120, help_text="Which device, e.g. 'Truck 14 tablet'.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = DeviceTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.crew.code}: {self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, crew: Crew, name: str, by: object = None) -> tuple[DeviceToken, str]:
        """A new token; the raw key is returned once and never stored."""
        raw, stored = cls.new_key(32)
        creator: Any = by if getattr(by, "pk", None) else None  # a user, never a device or the system
        token = cls.objects.create(crew=crew, name=name, created_by=creator, **stored)
        return token, raw


class SignInError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class DeviceSignIn(IssuedKey):
    """A one-time link that signs a tablet in: an administrator or dispatcher issues it (shown as a link and a
    QR code), the tablet opens it once and receives its own device token. The link's secret rides in the
    URL's fragment (#signin=…), which browsers never send to a server, so it stays out of access logs."""

    crew = models.ForeignKey(Crew, on_delete=models.CASCADE, related_name="sign_in_links")
    name = models.CharField(max_length=120, help_text="Which device, e.g. 'Truck 14 tablet'.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    token = models.OneToOneField(
        DeviceToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="sign_in", editable=False
    )

    def __str__(self) -> str:
        return f"sign-in link for {self.crew.code}: {self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, crew: Crew, name: str, by: object = None, hours: float = 24) -> tuple[DeviceSignIn, str]:
        raw, stored = cls.new_key(24)
        creator: Any = by if getattr(by, "pk", None) else None
        expires = timezone.now() + dt.timedelta(hours=hours)
        return cls.objects.create(crew=crew, name=name, created_by=creator, expires_at=expires, **stored), raw

    @classmethod
    def redeem(cls, raw: str) -> tuple[DeviceToken, str]:
        """The device token this link gives, made now (its raw key returned once). A link works once."""
        link = cls.objects.select_for_update().select_related("crew").filter(key_hash=hash_token(raw)).first()
        if link is None:
            raise SignInError("this sign-in link is not known: ask the office for a new one", 404)
        if link.used_at is not None or link.revoked_at is not None:
            raise SignInError("this sign-in link was already used: ask the office for a new one", 410)
        if link.expires_at <= timezone.now():
            raise SignInError("this sign-in link has expired: ask the office for a new one", 410)
        token, key = DeviceToken.issue(link.crew, link.name, by=link.created_by)
        link.used_at, link.token = timezone.now(), token
        link.save(update_fields=["used_at", "token"])
        return token, key


class StopEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, help_text="Generated by the client.")
    # Drawn by the INSERT itself (and returned by it): a separate nextval was one more round trip per event.
    seq = models.BigIntegerField(
        unique=True,
        editable=False,
        db_default=Func(Value("field_api_stopevent_seq"), function="nextval", output_field=models.BigIntegerField()),
        help_text="Server receipt order.",
    )
    stop = models.ForeignKey(
        Stop, on_delete=models.PROTECT, related_name="events", help_text="The stop the device posted to."
    )
    request = models.ForeignKey(ServiceRequest, on_delete=models.PROTECT, related_name="stop_events")
    service_date = models.DateField()
    crew = models.ForeignKey(Crew, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(DeviceToken, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    device_time = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)
    reason_code = models.CharField(max_length=20, choices=ReasonCode.choices, blank=True)
    materials = models.JSONField(default=list, blank=True)
    fingerprint = models.CharField(max_length=64, help_text="Hash of the payload: a replay must match it.")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.APPLIED)
    outcome_detail = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="The response first given (replays return it).")

    class Meta:
        ordering = ["device_time", "seq"]
        indexes = [models.Index(fields=["request", "service_date", "device_time", "seq"], name="stop_event_fold")]

    def __str__(self) -> str:
        return f"{self.kind} {self.request_id} @ {self.device_time:%H:%M:%S}"


def photo_path(instance: StopPhoto, filename: str) -> str:
    return f"stop-photos/{instance.event.service_date:%Y/%m/%d}/{instance.event_id}-{filename}"


class StopPhoto(models.Model):
    class Stage(models.TextChoices):
        BEFORE = "before", "Before"
        AFTER = "after", "After"

    event = models.ForeignKey(StopEvent, on_delete=models.PROTECT, related_name="photos")
    index = models.PositiveSmallIntegerField()
    stage = models.CharField(max_length=6, choices=Stage.choices)
    image = models.FileField(upload_to=photo_path, max_length=300)
    thumbnail = models.FileField(upload_to=photo_path, max_length=300)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    original_type = models.CharField(max_length=10, help_text="JPEG, PNG or HEIC as uploaded.")
    bytes = models.PositiveIntegerField()

    class Meta:
        ordering = ["event", "index"]
        constraints = [models.UniqueConstraint(fields=["event", "index"], name="photo_index_unique")]

    def __str__(self) -> str:
        return f"{self.stage} photo {self.index} of {self.event_id}"


class Open311KeyQuerySet(models.QuerySet["Open311Key"]):
    def live(self) -> Open311KeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class Open311Key(IssuedKey):
    """An Open311 client's api_key (a resident app, another city system): posting requests needs one, reading
    does not. Shown once when issued, stored hashed, revocable; requests it files say which client sent them."""

    name = models.CharField(max_length=120, help_text="Which client, e.g. 'SeeClickFix bridge'.")
    contact_email = models.EmailField(blank=True, help_text="Who to tell when the key or the API changes.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = Open311KeyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, name: str, contact_email: str = "") -> tuple[Open311Key, str]:
        """A new key; the raw key is returned once and never stored."""
        raw, stored = cls.new_key(24)
        return cls.objects.create(name=name, contact_email=contact_email, **stored), raw


class DataExport(models.Model):
    """An open-data export too large to stream inside one web request: written to a file by the worker, then
    served from its (unguessable) URL. The rows hold nothing personal (gis_app.opendata)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    fmt = models.CharField(max_length=10)
    params = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    rows = models.PositiveIntegerField(default=0)
    file = models.CharField(max_length=300, blank=True, help_text="Path under MEDIA_ROOT.")
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"export {self.id} {self.fmt} ({self.state})"
