"""The SLA job and storm mode: warn a department about work about to breach, alert on breaches, escalate once;
declare a storm that extends the due dates of chosen types.

`check_slas` is the Celery beat task (settings.CELERY_BEAT_SCHEDULE); it is declared here, beside its work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from gis_app.audit import record
from gis_app.due_dates import due_at
from gis_app.models import ServiceRequest, SlaAlert, StormMode
from gis_app.notifications import department_alert


@dataclass
class SlaReport:
    due_soon: list[str] = field(default_factory=list)
    breached: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"due soon: {len(self.due_soon)}, breached: {len(self.breached)}, escalated: {len(self.escalated)}"]


def _once(request: ServiceRequest, level: str) -> bool:
    """Record that `level` fired for `request`; False if it already had."""
    try:
        with transaction.atomic():
            SlaAlert.objects.create(request=request, level=level)
        return True
    except IntegrityError:
        return False


def run_sla_checks(now: dt.datetime | None = None) -> SlaReport:
    now = now or timezone.now()
    soon = now + dt.timedelta(hours=settings.SLA_WARNING_HOURS)
    report = SlaReport()
    open_work = ServiceRequest.objects.open().select_related("department", "service_type")
    for req in open_work.filter(due_at__gt=now, due_at__lte=soon):
        if _once(req, SlaAlert.Level.DUE_SOON):
            department_alert(req, level="due_soon", to=req.department.queue_email)
            report.due_soon.append(req.ticket)
    for req in open_work.filter(due_at__lte=now):
        if _once(req, SlaAlert.Level.BREACHED):
            department_alert(req, level="breached", to=req.department.queue_email)
            record(req, "sla_breached", actor_label="sla job", public=False)
            report.breached.append(req.ticket)
        if req.department.supervisor_email and _once(req, SlaAlert.Level.ESCALATED):
            department_alert(req, level="escalated", to=req.department.supervisor_email)
            record(
                req,
                "escalated",
                actor_label="sla job",
                public=False,
                note=f"escalated to {req.department.supervisor_email}",
            )
            report.escalated.append(req.ticket)
    return report


@shared_task(name="gis311.check_slas")
def check_slas() -> list[str]:
    return run_sla_checks().lines()


def declare_storm(
    name: str,
    service_types: list[Any],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    extension_hours: float,
    *,
    wards: list[int] | None = None,
    by: Any = None,
) -> Any:
    """Storm mode: requests of these types filed in [starts_at, ends_at) get `extension_hours` more.

    New requests get it at intake (due_at reads the storm); open ones already filed in the window are
    extended now, each with an audit event.
    """
    if ends_at <= starts_at or extension_hours <= 0:
        raise ValueError("a storm needs ends_at after starts_at and a positive extension")
    with transaction.atomic():
        storm = StormMode.objects.create(
            name=name,
            starts_at=starts_at,
            ends_at=ends_at,
            extension_hours=extension_hours,
            wards=sorted(set(wards or [])),
            created_by=by if getattr(by, "pk", None) else None,
        )
        storm.service_types.set(service_types)
        affected = ServiceRequest.objects.open().filter(
            service_type__in=service_types, requested_at__gte=starts_at, requested_at__lt=ends_at
        )
        if wards:
            affected = affected.filter(ward_number__in=wards)
        for req in affected.select_for_update():
            old = req.due_at
            req.due_at = due_at(req.service_type, req.requested_at, ward=req.ward_number)
            req.version += 1
            req.save(update_fields=["due_at", "version", "updated_at"])
            record(
                req,
                "due_date_extended",
                by=by,
                actor_label="storm mode",
                old={"due_at": old.isoformat() if old else None},
                new={"due_at": req.due_at.isoformat()},
                note=f"storm mode: {name}",
            )
    return storm
