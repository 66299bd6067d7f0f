"""Crews, depots and route plans: what dispatch publishes and the field API serves.

A plan is one department's (or skill group's) routes for one service day. Plans are drafts until a
dispatcher publishes one; publishing supersedes the day's previous published plan, so the history of
re-plans stays readable. Stops keep their field status across re-plans (a new plan copies the done and
started stops of the one it replaces), and each crew's route carries what changed since its last version.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils import timezone

from gis_app.models import Department, ServiceRequest


class Depot(models.Model):
    """A yard crews start from and return to."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    location = models.PointField(srid=4326, spatial_index=True)
    note = models.CharField(max_length=300, blank=True, help_text="Why this place (e.g. a real City yard).")

    def __str__(self) -> str:
        return self.name


class CrewQuerySet(models.QuerySet["Crew"]):
    def on_shift(self, day: dt.date) -> list[Crew]:
        """Active crews that work on `day`'s weekday (holidays are the caller's business)."""
        return [
            c
            for c in self.filter(active=True).select_related("depot", "department")
            if day.weekday() in (c.workdays or [])
        ]


class Crew(models.Model):
    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="crews")
    skills = models.JSONField(default=list, blank=True, help_text='Skills this crew has, e.g. ["paving"].')
    depot = models.ForeignKey(Depot, on_delete=models.PROTECT, related_name="crews")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="crews")
    vehicle = models.CharField(max_length=120, blank=True)
    shift_start = models.TimeField(default=dt.time(7, 0))
    shift_end = models.TimeField(default=dt.time(15, 30))
    workdays = models.JSONField(default=list, blank=True, help_text="Weekdays worked, 0 = Monday.")
    break_earliest = models.TimeField(null=True, blank=True, help_text="A meal break starts no earlier than this…")
    break_latest = models.TimeField(null=True, blank=True, help_text="…and no later than this.")
    break_minutes = models.PositiveSmallIntegerField(default=0)
    max_jobs = models.PositiveSmallIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)

    objects = CrewQuerySet.as_manager()

    class Meta:
        ordering = ["department", "code"]

    def __str__(self) -> str:
        return self.name

    def shift_on(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """Shift start and end as aware datetimes in the city's time zone."""
        tz = ZoneInfo(settings.TIME_ZONE)
        start = dt.datetime.combine(day, self.shift_start, tzinfo=tz)
        end = dt.datetime.combine(day, self.shift_end, tzinfo=tz)
        if end <= start:  # a night shift ends the next day
            end += dt.timedelta(days=1)
        return start, end


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    SUPERSEDED = "superseded", "Superseded"
    DISCARDED = "discarded", "Discarded"


class RoutePlan(models.Model):
    service_date = models.DateField(db_index=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="route_plans")
    skill_group = models.CharField(max_length=60, blank=True, help_text="Blank: all of the department's work.")
    status = models.CharField(max_length=12, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    based_on = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The published plan this one re-plans or replaces.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    settings = models.JSONField(default=dict, blank=True, help_text="Solver settings used.")
    stats = models.JSONField(default=dict, blank=True, help_text="Totals: drive, distance, jobs, SLA misses, time.")
    network = models.JSONField(default=dict, blank=True, help_text="Which street network gave the travel times.")
    dropped = models.JSONField(default=list, blank=True, help_text='Jobs left open: [{"ticket", "reason", "detail"}].')
    pins = models.JSONField(default=dict, blank=True, help_text="ticket → crew code the dispatcher pinned.")
    locks = models.JSONField(default=dict, blank=True, help_text="crew code → tickets locked in order.")

    class Meta:
        ordering = ["-service_date", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_date", "department", "skill_group"],
                condition=Q(status="published"),
                name="one_published_plan_per_day",
            ),
        ]

    def __str__(self) -> str:
        group = f"/{self.skill_group}" if self.skill_group else ""
        return f"{self.department.code}{group} {self.service_date} #{self.pk} ({self.status})"


class Route(models.Model):
    plan = models.ForeignKey(RoutePlan, on_delete=models.CASCADE, related_name="routes")
    crew = models.ForeignKey(Crew, on_delete=models.PROTECT, related_name="routes")
    geometry = models.LineStringField(
        srid=4326, null=True, blank=True, spatial_index=True, help_text="Along the streets, depot to depot."
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    drive_seconds = models.PositiveIntegerField(default=0)
    distance_m = models.PositiveIntegerField(default=0)
    service_seconds = models.PositiveIntegerField(default=0)
    breaks = models.JSONField(default=list, blank=True, help_text='[{"start": iso, "minutes": n}]')
    version = models.PositiveIntegerField(default=1, help_text="The crew's route version for the day.")
    changes = models.JSONField(
        default=dict, blank=True, help_text="What changed since the crew's previous published route this day."
    )

    class Meta:
        ordering = ["plan", "crew"]
        constraints = [models.UniqueConstraint(fields=["plan", "crew"], name="one_route_per_crew_per_plan")]


class StopStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    EN_ROUTE = "en_route", "En route"
    ARRIVED = "arrived", "Arrived"
    STARTED = "started", "Started"
    COMPLETED = "completed", "Completed"
    COULD_NOT_COMPLETE = "could_not_complete", "Could not complete"


class EventKind(models.TextChoices):
    """What a crew (or a supervisor) reports about a stop. A crew's report moves the stop to the StopStatus of the
    same value (routing.stops.fold); a supervisor's reopening puts it back to planned."""

    EN_ROUTE = StopStatus.EN_ROUTE.value, StopStatus.EN_ROUTE.label
    ARRIVED = StopStatus.ARRIVED.value, StopStatus.ARRIVED.label
    STARTED = StopStatus.STARTED.value, StopStatus.STARTED.label
    COMPLETED = StopStatus.COMPLETED.value, StopStatus.COMPLETED.label
    COULD_NOT_COMPLETE = StopStatus.COULD_NOT_COMPLETE.value, StopStatus.COULD_NOT_COMPLETE.label
    REOPENED = "reopened", "Reopened by a supervisor"


class Outcome(models.TextChoices):
    """What the fold did with one event."""

    APPLIED = "applied", "Applied"
    CONFLICT = "conflict", "Recorded, not applied: the stop was already completed"
    IGNORED = "ignored", "Recorded, not applied"


class ReasonCode(models.TextChoices):
    """Why a crew could not complete a stop."""

    NO_ACCESS = "no_access", "No access"
    PARKED_CAR = "parked_car", "Parked car in the way"
    NEEDS_OTHER_CREW = "needs_other_crew", "Needs another crew"
    NOT_FOUND = "not_found", "Problem not found"
    UNSAFE = "unsafe", "Unsafe to work"
    WEATHER = "weather", "Weather"
    OTHER = "other", "Other (say why in the note)"


STOP_DONE = (StopStatus.COMPLETED, StopStatus.COULD_NOT_COMPLETE)
STOP_UNDER_WAY = (StopStatus.EN_ROUTE, StopStatus.ARRIVED, StopStatus.STARTED)


class Stop(models.Model):
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="stops")
    sequence = models.PositiveSmallIntegerField()
    request = models.ForeignKey(
        ServiceRequest,
        on_delete=models.PROTECT,
        related_name="stops",
        help_text="The issue (its duplicates ride along).",
    )
    eta = models.DateTimeField()
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    service_minutes = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=20, choices=StopStatus.choices, default=StopStatus.PLANNED)
    status_at = models.DateTimeField(null=True, blank=True, help_text="Device time of the status.")
    locked = models.BooleanField(default=False, help_text="Keep with this crew, in this order, on re-plans.")
    flags = models.JSONField(
        default=list,
        blank=True,
        help_text="Field reports the dispatcher should see (work reported after a stop moved).",
    )
    nearest_address = models.CharField(
        max_length=300,
        blank=True,
        help_text="For a request filed without an address: the nearest one the layers give (set when planned).",
    )

    class Meta:
        ordering = ["route", "sequence"]
        constraints = [models.UniqueConstraint(fields=["route", "sequence"], name="stop_sequence_unique")]

    def __str__(self) -> str:
        return f"{self.sequence}. {self.request.ticket}"


class PlanRun(models.Model):
    """A planning run the dispatcher page queued on the worker: how it ended (its draft, or why it failed), so
    the page can say so instead of waiting for a plan that will never come."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="+")
    service_date = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    plan = models.ForeignKey(RoutePlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.TextField(blank=True, help_text="Why it failed, in words a dispatcher can act on.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"run {self.pk} {self.department_id} {self.service_date} {self.state}"
