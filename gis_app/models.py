"""The request domain: departments, service types (Open311 service definitions with SLAs), requests,
their audit trail, subscriptions, routing rules, the business calendar and storm mode.

Statuses change only through gis_app.transitions; models carry domain verbs and querysets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from gis_app.choices import OPEN_STATUSES, Channel, Datatype, LocatedBy, NotifyVia, SlaKind, Status
from gis_app.tickets import new_ticket
from layers.memo import remembered
from layers.models import LayerVersion

if TYPE_CHECKING:
    pass

DESCRIPTION_MAX = 4000


class Department(models.Model):
    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    queue_email = models.EmailField(blank=True, help_text="Where alerts about this department's work go.")
    supervisor_email = models.EmailField(blank=True, help_text="Escalations for breached SLAs.")

    def __str__(self) -> str:
        return self.name


def day_start(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the city's time zone."""
    return dt.datetime.combine(day, dt.time(), tzinfo=timezone.get_current_timezone())


class ServiceTypeQuerySet(models.QuerySet["ServiceType"]):
    def public(self) -> ServiceTypeQuerySet:
        """Types whose requests the public, planners and open data may see (not the sensitive ones)."""
        return self.filter(sensitive=False)

    def active_by_code(self, code: str) -> ServiceType | None:
        """The active type with this code, its department and questions loaded: from this process's copy of the
        active types (layers.memo), since intake asks on every report. Read-only: it is shared."""
        return remembered("gis:service-types", _active_types).get(code)

    def unknown_codes(self, codes: Iterable[str]) -> list[str]:
        """The codes, in the order given, that name none of these types (one query)."""
        wanted = list(codes)
        known = set(self.filter(code__in=wanted).values_list("code", flat=True))
        return [c for c in wanted if c not in known]


def _active_types() -> dict[str, ServiceType]:
    rows = ServiceType.objects.filter(active=True).select_related("department").prefetch_related("attributes")
    return {t.code: t for t in rows}


class ServiceType(models.Model):
    """A kind of request: what residents choose, what the city promises, how crews work it."""

    code = models.SlugField(max_length=80, unique=True, help_text="Open311 service_code.")
    name = models.CharField(max_length=200)
    group = models.CharField(max_length=120, blank=True)
    description = models.TextField(blank=True)
    keywords = models.JSONField(default=list, blank=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="service_types")
    priority = models.PositiveSmallIntegerField(default=3, help_text="1 (lowest) to 5 (emergency).")
    sla_kind = models.CharField(max_length=20, choices=SlaKind.choices, default=SlaKind.BUSINESS_HOURS)
    sla_amount = models.FloatField(default=40, help_text="Business hours or calendar days, per sla_kind.")
    sla_text = models.CharField(max_length=300, blank=True, help_text="What residents are told to expect.")
    sla_basis = models.CharField(
        max_length=300, blank=True, help_text="Where the SLA comes from (staff only, never shown to residents)."
    )
    location_required = models.BooleanField(default=True)
    anonymous_allowed = models.BooleanField(default=True)
    sensitive = models.BooleanField(default=False, help_text="Never shown publicly.")
    force_anonymous = models.BooleanField(
        default=False,
        help_text="Keep no reporter identity for this type (e.g. a report about a neighbour): every report is "
        "anonymous, whatever the caller gives.",
    )
    required_skill = models.CharField(max_length=60, blank=True)
    expected_minutes = models.PositiveIntegerField(default=30)
    dedup_radius_m = models.FloatField(default=50)
    dedup_window_days = models.FloatField(default=30)
    dedup_threshold = models.FloatField(
        default=0.8, help_text="Auto-link at or above this score (0…1); above 1 never auto-links."
    )
    crew_work = models.BooleanField(
        default=True,
        help_text="Crews are sent to it. Off for contacts that are logged where they happened but are not the "
        "city's field work (an aircraft-noise complaint): never in a dispatch plan.",
    )
    dedup_learned_pairs = models.PositiveIntegerField(
        default=0,
        help_text="Labelled duplicate pairs the threshold was learned from (manage.py learn_dedup). Below "
        "settings.DEDUP_MIN_PAIRS dedup only suggests: it never links a report on its own.",
    )
    dedup_recent_closed_days = models.FloatField(
        default=3, help_text="Completed or closed issues stay candidates this many days."
    )
    completion_requires_photo = models.BooleanField(default=False)
    notify_stages = models.JSONField(
        default=list,
        blank=True,
        help_text='Actions residents hear about besides intake and completion, e.g. ["assign", "start"].',
    )
    active = models.BooleanField(default=True)
    location_private = models.BooleanField(
        default=False,
        db_default=False,  # raw loaders may leave it out
        help_text="Open data rounds this type's locations to the block (about 100 m): the exact spot could point "
        "at one household (e.g. a rat complaint in a yard).",
    )
    updated_at = models.DateTimeField(auto_now=True, help_text="Open311's service-list changeset follows it.")

    objects = ServiceTypeQuerySet.as_manager()

    class Meta:
        ordering = ["group", "name"]

    def __str__(self) -> str:
        return self.name


class ServiceAttribute(models.Model):
    """One intake question of a service type, shaped like an Open311 service definition attribute."""

    service_type = models.ForeignKey(ServiceType, on_delete=models.CASCADE, related_name="attributes")
    code = models.SlugField(max_length=80)
    datatype = models.CharField(max_length=20, choices=Datatype.choices, default=Datatype.STRING)
    required = models.BooleanField(default=False)
    order = models.PositiveSmallIntegerField(default=1)
    description = models.CharField(max_length=300)
    values = models.JSONField(default=list, blank=True, help_text='[{"key": "1", "name": "Yes"}, …] for lists.')
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service_type", "order"]
        constraints = [models.UniqueConstraint(fields=["service_type", "code"], name="attribute_unique_code")]

    def __str__(self) -> str:
        return f"{self.service_type.code}.{self.code}"


class DepartmentRule(models.Model):
    """Which department owns a type in a place: a ward rule beats a community-area rule beats the default."""

    service_type = models.ForeignKey(ServiceType, on_delete=models.CASCADE, related_name="department_rules")
    ward_number = models.PositiveIntegerField(null=True, blank=True)
    community_area_number = models.PositiveIntegerField(null=True, blank=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ward_number__isnull=False) | Q(community_area_number__isnull=False),
                name="routing_rule_has_a_place",
            ),
        ]


class ServiceRequestQuerySet(models.QuerySet["ServiceRequest"]):
    def open(self) -> ServiceRequestQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def to_confirm(self) -> ServiceRequestQuerySet:
        """Filed with only a free-text place: waiting for staff to place them (out of dispatch until then)."""
        return self.open().filter(location__isnull=True).exclude(location_note="")

    def of_type(self, service_type: ServiceType) -> ServiceRequestQuerySet:
        return self.filter(service_type=service_type)

    def near(self, point: Point, metres: float) -> ServiceRequestQuerySet:
        """Within `metres` on the ground: ST_DWithin on geography, served by the GiST index on location::geography
        (migration 0004); metres, not degrees, so the radius means the same at every latitude."""
        table = self.model._meta.db_table
        return self.alias(
            _near=RawSQL(
                f'ST_DWithin("{table}"."location"::geography, ST_GeogFromText(%s), %s)',
                (f"SRID=4326;POINT({point.x} {point.y})", float(metres)),
                output_field=models.BooleanField(),
            ),
        ).filter(_near=True)

    def since(self, when: dt.datetime) -> ServiceRequestQuerySet:
        return self.filter(requested_at__gte=when)

    def filed_on_days(self, first: dt.date, last: dt.date) -> ServiceRequestQuerySet:
        """Filed from the start of `first` to the end of `last`, in the city's time (reports and exports count
        whole local days, whatever the server's zone)."""
        return self.filter(requested_at__gte=day_start(first), requested_at__lt=day_start(last + dt.timedelta(days=1)))

    def overdue(self, now: dt.datetime | None = None) -> ServiceRequestQuerySet:
        return self.open().filter(due_at__lt=now or timezone.now())

    def fresh_tickets(self, n: int) -> list[str]:
        """`n` new ticket numbers, unique among themselves and unused in the table.

        Why: bulk loads issue many random tickets at once; with a million of them, collisions within the
        batch or with stored ones are likely (birthday bound), and a bulk insert cannot retry row by row.
        """
        chosen: set[str] = set()
        while len(chosen) < n:
            wanted = n - len(chosen)
            batch = {new_ticket() for _ in range(wanted + wanted // 100 + 8)} - chosen
            for start in range(0, len(batch), 10_000):
                part = list(batch)[start : start + 10_000]
                batch -= set(self.model.objects.filter(ticket__in=part).values_list("ticket", flat=True))
            chosen |= set(list(batch)[:wanted])
        return list(chosen)


class ServiceRequest(models.Model):
    ticket = models.CharField(max_length=11, unique=True, help_text="Universal ticket number, e.g. 7KQ2-M9XD-4.")
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="requests")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    location = models.PointField(srid=4326, null=True, blank=True, spatial_index=True, geography=False)
    address = models.CharField(max_length=300, blank=True)
    language = models.CharField(
        max_length=8,
        default="en",
        db_default="en",  # raw COPY loads leave it out
        help_text="The reporter's language: every message to them is in it.",
    )
    location_note = models.CharField(
        max_length=300,
        blank=True,
        db_default="",  # raw COPY loads leave it out
        help_text="Where the caller said it is, when no pin or address could be placed ('behind the library on "
        "Main'): the request waits in the 'location to confirm' queue, out of dispatch, until staff place it.",
    )
    located_by = models.CharField(max_length=20, choices=LocatedBy.choices, default=LocatedBy.PIN)
    ward_number = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    ward_layer = models.ForeignKey(
        LayerVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The ward map in force when the request was filed.",
    )
    community_area_number = models.PositiveIntegerField(null=True, blank=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="requests")
    description = models.TextField(blank=True, max_length=DESCRIPTION_MAX)
    attributes = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.PHONE)
    reporter_name = models.CharField(max_length=200, blank=True)
    reporter_email = models.EmailField(blank=True)
    reporter_phone = models.CharField(max_length=40, blank=True)
    anonymous = models.BooleanField(default=False)
    notify_via = models.CharField(max_length=10, choices=NotifyVia.choices, default=NotifyVia.NONE)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates")
    follow_up_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ups")
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)  # Open311 updated_after / change feeds
    closed_at = models.DateTimeField(null=True, blank=True)
    closure_reason = models.CharField(max_length=300, blank=True)
    external_id = models.CharField(max_length=100, blank=True, db_index=True)
    media_url = models.URLField(
        max_length=1000,
        blank=True,
        db_default="",  # raw COPY loads may leave it out
        help_text="A photo the reporter linked (Open311).",
    )
    import_batch = models.ForeignKey(
        "ImportBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    source_data = models.JSONField(
        default=dict,
        blank=True,
        help_text="What an imported or replayed record said in its source (its own ward, "
        "status, parent id, line number).",
    )
    version = models.PositiveIntegerField(default=1, help_text="Optimistic lock: bumped by every change.")

    objects = ServiceRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at"]
        permissions = [("view_reporter_contact", "Can see reporter contact details (logged)")]

    def __str__(self) -> str:
        return f"{self.ticket} {self.service_type.code} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class RequestEvent(models.Model):
    """The audit trail: one row per change, append-only (a database trigger refuses UPDATE and DELETE)."""

    request = models.ForeignKey(ServiceRequest, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True, help_text="Who, when not a user (system, crew).")
    verb = models.CharField(max_length=40)
    old = models.JSONField(default=dict, blank=True)
    new = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    public = models.BooleanField(default=True, help_text="Shown on the public track-my-ticket page.")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.verb}"


class Subscription(models.Model):
    """Someone who hears about a request: its reporter, and anyone attached to it later."""

    request = models.ForeignKey(ServiceRequest, on_delete=models.CASCADE, related_name="subscriptions")
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    via = models.CharField(max_length=10, choices=NotifyVia.choices)
    language = models.CharField(max_length=8, default="en", db_default="en", help_text="Messages are in it.")
    created_at = models.DateTimeField(default=timezone.now)


class Holiday(models.Model):
    date = models.DateField(unique=True)
    name = models.CharField(max_length=120)

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class StormMode(models.Model):
    """Extend due dates of chosen types for requests filed in a date range (a storm, a snow emergency)."""

    name = models.CharField(max_length=200)
    service_types = models.ManyToManyField(ServiceType, related_name="storms")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    extension_hours = models.FloatField(help_text="Added to the due date of each affected request.")
    wards = models.JSONField(
        default=list, blank=True, help_text="Ward numbers it covers, e.g. [1, 2, 32]; empty: the whole city."
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.name


class Notification(models.Model):
    """One message to one person about one event, sent at most once (the idempotency key is unique)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    request = models.ForeignKey(ServiceRequest, on_delete=models.CASCADE, related_name="notifications")
    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40, help_text="acknowledgement, stage, completion, sla_alert, escalation")
    channel = models.CharField(max_length=10, choices=NotifyVia.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    attachment = models.CharField(max_length=300, blank=True, help_text="A media path sent along (an after photo).")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)


class SlaAlert(models.Model):
    """That a request's SLA alert of a level went out: the overdue job alerts once and escalates once."""

    class Level(models.TextChoices):
        DUE_SOON = "due_soon", "About to breach"
        BREACHED = "breached", "Breached"
        ESCALATED = "escalated", "Escalated to a supervisor"

    request = models.ForeignKey(ServiceRequest, on_delete=models.CASCADE, related_name="sla_alerts")
    level = models.CharField(max_length=12, choices=Level.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "level"], name="sla_alert_once_per_level")]


class WebhookEndpoint(models.Model):
    """A department's work-order system that follows its requests' events (signed JSON POSTs)."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField()
    secret = models.CharField(max_length=200, help_text="Shared secret for the HMAC-SHA256 signature.")
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.department.code} -> {self.url}"


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(RequestEvent, on_delete=models.PROTECT, related_name="+")
    payload = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once")]


class ImportBatch(models.Model):
    """One recorded load of a 311 export (or one replay): source, checksum, counts, bad rows."""

    kind = models.CharField(max_length=20, default="history", help_text="history | replay")
    source = models.CharField(max_length=300)
    file_name = models.CharField(max_length=300, blank=True)
    checksum = models.CharField(max_length=64)
    loaded_at = models.DateTimeField(default=timezone.now)
    counts = models.JSONField(default=dict, blank=True)
    bad_rows = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "checksum"], name="import_batch_unique")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.source} ({self.loaded_at:%Y-%m-%d})"


class SurveyAnswer(models.Model):
    """A resident's one answer to "is it fixed?" about one completion: a survey link works once."""

    request = models.ForeignKey(ServiceRequest, on_delete=models.CASCADE, related_name="survey_answers")
    completion = models.OneToOneField(
        RequestEvent, on_delete=models.PROTECT, related_name="+", help_text="The completion the link asked about."
    )
    fixed = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)


# The outbox's table (its code lives in gis_app/outbox.py): imported here so Django sees the model.
from gis_app.outbox import OutboxJob  # noqa: E402, F401
