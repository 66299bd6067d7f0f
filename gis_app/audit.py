"""The audit trail's one writer: every change to a request appends a RequestEvent here.

The table is append-only (a database trigger refuses UPDATE and DELETE). Each event is handed to the
department's webhooks (delivered after commit), so a department's own system hears of every step.
"""

from __future__ import annotations

from typing import Any

from gis_app.models import RequestEvent, ServiceRequest
from gis_app.webhooks import fan_out


def record(
    request: ServiceRequest,
    verb: str,
    *,
    by: Any = None,
    actor_label: str = "",
    old: dict | None = None,
    new: dict | None = None,
    note: str = "",
    public: bool = True,
) -> RequestEvent:
    """Append an audit event; the department's webhooks hear about it after commit."""
    event = RequestEvent.objects.create(
        request=request,
        verb=verb,
        actor=by if getattr(by, "pk", None) else None,
        actor_label=actor_label or (str(by) if by is not None else "system"),
        old=old or {},
        new=new or {},
        note=note,
        public=public,
    )
    fan_out(event)
    return event
