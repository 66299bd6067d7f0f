"""The periodic SLA job: warn a department about work about to breach, alert on breaches, escalate once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from gis_app.models import ServiceRequest, SlaAlert
from gis_app.notifications import department_alert
from gis_app.transitions import record


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
            record(req, "escalated", actor_label="sla job", public=False,
                   note=f"escalated to {req.department.supervisor_email}")
            report.escalated.append(req.ticket)
    return report
