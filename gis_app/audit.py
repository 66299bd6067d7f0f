"""The audit trail's one writer: every change to a request appends a RequestEvent here.

The table is append-only (a database trigger refuses UPDATE and DELETE). Each event is handed to the
department's webhooks (delivered after commit), so a department's own system hears of every step.
"""

from __future__ import annotations

from typing import Any

from gis_app.models import RequestEvent, ServiceRequest
from gis_app.webhooks import fan_out, fan_out_many


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


def record_many(request: ServiceRequest, entries: list[dict[str, Any]], *, by: Any = None) -> list[RequestEvent]:
    """Several audit events at once (filing a request writes three): one INSERT and one look for the
    department's webhooks, in the entries' order. Each entry holds `record`'s keyword arguments and `verb`."""
    actor = by if getattr(by, "pk", None) else None
    events = RequestEvent.objects.bulk_create(
        [
            RequestEvent(
                request=request,
                verb=e["verb"],
                actor=actor,
                actor_label=e.get("actor_label") or (str(by) if by is not None else "system"),
                old=e.get("old") or {},
                new=e.get("new") or {},
                note=e.get("note", ""),
                public=e.get("public", True),
            )
            for e in entries
        ]
    )
    fan_out_many(events)
    return events
