"""What real Open311 clients use beyond the GeoReport v2 core: Chicago's `extensions=true` (extended attributes
and notes from the audit trail), paging and `updated_after`/`updated_before`; FixMyStreet's extended statuses
and `servicerequestupdates` feed; `zipcode` and `address_id` from the city's layers; tokens.

Every extension is asked for by a parameter; a client that sends none sees the base spec's shape.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest
from django.utils import timezone

from field_api.open311.render import Open311Error
from gis_app.choices import Status
from gis_app.models import RequestEvent, ServiceRequest
from gis_app.public_views import PUBLIC_VERBS
from layers.models import AddressPoint, LayerVersion, StreetCorner

PAGE_SIZE, MAX_PAGE_SIZE = 50, 500  # Chicago's documented default and maximum

# Our statuses in FixMyStreet's extended vocabulary (the base `status` stays open/closed).
EXTENDED_STATUS = {
    Status.RECEIVED: "OPEN",
    Status.OPEN: "OPEN",
    Status.ASSIGNED: "ACTION_SCHEDULED",
    Status.IN_PROGRESS: "IN_PROGRESS",
    Status.ON_HOLD: "INVESTIGATING",
    Status.COMPLETED: "FIXED",
    Status.CLOSED: "CLOSED",
    Status.DUPLICATE: "DUPLICATE",
    Status.CANCELLED: "NO_FURTHER_ACTION",
}
# The status an audit step leaves a request in, for the updates feed (steps that change no status say OPEN).
VERB_STATUS = {
    "received": "OPEN",
    "open": "OPEN",
    "assign": "ACTION_SCHEDULED",
    "start": "IN_PROGRESS",
    "hold": "INVESTIGATING",
    "resume": "IN_PROGRESS",
    "could_not_complete": "OPEN",
    "complete": "FIXED",
    "close": "CLOSED",
    "mark_duplicate": "DUPLICATE",
    "unmerge": "OPEN",
    "cancel": "NO_FURTHER_ACTION",
    "reported_not_fixed": "OPEN",
    "comment": "OPEN",
}
NOTE_TYPE = {"received": "opened", "open": "opened", "complete": "closed", "close": "closed", "cancel": "closed",
             "mark_duplicate": "closed"}  # fmt: skip
FEED_VERBS = [v for v in PUBLIC_VERBS if v not in ("routed", "due_date_set")] + ["comment"]
AUTOMATED_LABELS = ("system", "sla job", "storm mode", "replay", "dispatch", "plan")


def flag(request: HttpRequest, name: str) -> bool:
    value = request.GET.get(name, "").strip().lower()
    if value in ("", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise Open311Error(400, f"{name} must be true or false; got {value[:20]!r}")


def paging(request: HttpRequest) -> tuple[int, int] | None:
    """(page, page_size) when the client pages (Chicago's extension), else None for the base spec's list."""
    raw_page, raw_size = request.GET.get("page", "").strip(), request.GET.get("page_size", "").strip()
    if not raw_page and not raw_size:
        return None
    try:
        page = int(raw_page or 1)
        size = int(raw_size or PAGE_SIZE)
    except ValueError:
        raise Open311Error(400, "page and page_size must be whole numbers") from None
    if page < 1 or page > 100_000:
        raise Open311Error(400, f"page must be 1 to 100000; got {page}")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise Open311Error(400, f"page_size must be 1 to {MAX_PAGE_SIZE}; got {size}")
    return page, size


def located(rows: QuerySet[ServiceRequest]) -> QuerySet[ServiceRequest]:
    """`zipcode` and `address_id` from the city's layers, in the same query: the address point the request sits
    on (within 3 m: it was geocoded to it) gives both; else the nearest named corner within 300 m gives the
    ZIP code. A city without those layers gets nulls, as the spec allows."""
    table = ServiceRequest._meta.db_table
    active = f"SELECT id FROM {LayerVersion._meta.db_table} WHERE active"
    here = f'"{table}".location'
    # The nearest one by the GiST index (KNN), then its distance checked on the ground: one index probe a row.
    point = f"""(SELECT n.{{col}} FROM (SELECT a.id, a.postcode, a.geom FROM {AddressPoint._meta.db_table} a
        WHERE a.layer_version_id IN ({active}) ORDER BY a.geom <-> {here} LIMIT 1) n
        WHERE ST_DWithin(n.geom::geography, {here}::geography, 3))"""
    corner = f"""(SELECT n.zipcode FROM (SELECT c.zipcode, c.geom FROM {StreetCorner._meta.db_table} c
        WHERE c.layer_version_id IN ({active}) AND c.zipcode <> '' ORDER BY c.geom <-> {here} LIMIT 1) n
        WHERE ST_DWithin(n.geom::geography, {here}::geography, 300))"""
    return rows.annotate(
        o311_address_id=RawSQL(point.format(col="id"), ()),
        o311_zipcode=RawSQL(f"COALESCE(NULLIF({point.format(col='postcode')}, ''), {corner})", ()),
    )


def address_point(raw: str) -> tuple[Any, str]:
    """POST address_id: the point and its address from the city's address layer (the spec's master address
    repository), or the spec's 400 saying why not."""
    active = AddressPoint.objects.filter(layer_version__active=True)
    if not active.exists():
        raise Open311Error(400, "address_id is not supported: this city has no address layer; send lat and long")
    try:
        found = active.filter(pk=int(raw)).first()
    except ValueError:
        found = None
    if found is None:
        raise Open311Error(400, f"address_id {raw[:40]!r} is not in the city's address layer")
    street = " ".join(x for x in (found.number_text, found.direction, found.street) if x)
    return found.geom, street


def _public_events(ids: list[int]) -> dict[int, list[RequestEvent]]:
    events: dict[int, list[RequestEvent]] = defaultdict(list)
    for e in RequestEvent.objects.filter(request_id__in=ids, public=True, verb__in=FEED_VERBS).order_by("at", "id"):
        events[e.request_id].append(e)
    return events


def _iso(value: dt.datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


def extend(rows: list[Any], base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chicago's extended_attributes and notes[] (public audit steps, their public words only), one query."""
    events = _public_events([r.pk for r in rows])
    out = []
    for req, item in zip(rows, base, strict=True):
        item = dict(item)
        item["extended_attributes"] = {
            "ward": getattr(req, "ward_code", None) or (str(req.ward_number) if req.ward_number is not None else None),
            "community_area": str(req.community_area_number) if req.community_area_number is not None else None,
            "channel": req.channel,
            "duplicate": req.parent_id is not None,
            "parent_service_request_id": req.parent.ticket if req.parent_id and req.parent else None,
            "extended_status": EXTENDED_STATUS.get(req.status, "OPEN"),
        }
        item["notes"] = [
            {
                "datetime": _iso(e.at),
                "summary": str(PUBLIC_VERBS.get(e.verb, "Comment")),
                "type": NOTE_TYPE.get(e.verb, "activity"),
                "description": None,
            }
            for e in events.get(req.pk, [])
        ]
        out.append(item)
    return out


def is_automated(event: RequestEvent) -> bool:
    """No person did it: the system, the SLA job, a planning run (crews, staff, residents and clients did)."""
    return event.actor_id is None and event.actor_label.lower().startswith(AUTOMATED_LABELS)


def feed_window(request: HttpRequest, when: Any) -> tuple[dt.datetime, dt.datetime]:
    days = dt.timedelta(days=settings.OPEN311_MAX_DAYS)
    start, end = when(request, "start_date"), when(request, "end_date")
    end = end or (start + days if start else timezone.now())
    start = start or end - dt.timedelta(days=1)
    if start > end:
        raise Open311Error(400, "start_date is after end_date")
    if end - start > days:
        raise Open311Error(400, f"the window is {(end - start).days} days; at most {settings.OPEN311_MAX_DAYS}")
    return start, end
