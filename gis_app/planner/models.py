"""One planner analysis: its filters, its progress while it runs, and its result, kept so that the page, the
exports and a colleague's link all read the same figures (a re-run would drift as new requests arrive)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class HotSpotRun(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    params = models.JSONField(help_text="The filters as checked (types, dates, ward, radius, grid, alpha...).")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    stage = models.CharField(max_length=120, blank=True, help_text="What it is doing now, for the progress bar.")
    progress = models.FloatField(default=0.0)
    requests = models.PositiveIntegerField(default=0, help_text="Requests the filters selected.")
    result = models.JSONField(null=True, blank=True)
    detail = models.TextField(blank=True, help_text="Why it failed, in words a planner can act on.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"hot-spot run {self.pk} ({self.state})"
