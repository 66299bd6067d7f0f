"""One ward's page: its requests (listed, mapped), SLA by type, weekly trend, repeat locations, satisfaction.

What council members may see: counts of everything, but never reporter contact data, and no itemised row of a
sensitive type (only how many there are); a type whose places are private is mapped at its block
(`gis_app.privacy.public_place`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from field_api.reports.figures import EMPTY_ROW, ReportFilters, breakdown, finish
from gis_app.choices import OPEN_STATUSES
from gis_app.models import ServiceRequest, day_start
from gis_app.planner import stats
from gis_app.privacy import public_place
from layers.lookup import district_codes
from routing.models import Stop

TREND_WEEKS = 12
REPEAT_RADIUS_M = 30.0
REPEAT_MIN = 3
REPEAT_LIMIT = 10
# The page names the worst types under target among those with enough judged issues to mean something; the
# table flags every one.
FLAG_MIN_JUDGED = 5
FLAG_LIST = 6


def _rows_queryset(f: ReportFilters, ward: int, *, sensitive: bool = False) -> Any:
    """The ward's requests in the filters: of types the page may list, or (`sensitive`) of those it only counts."""
    qs = ServiceRequest.objects.filter(ward_number=ward, service_type__sensitive=sensitive)
    if f.types:
        qs = qs.filter(service_type__code__in=f.types)
    if f.department:
        qs = qs.filter(department__code=f.department)
    if f.status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif f.status == "closed":
        qs = qs.filter(status__in=["completed", "closed"], closed_at__isnull=False)
    if f.start:
        qs = qs.filter(requested_at__gte=day_start(f.start))
    if f.end:
        qs = qs.filter(requested_at__lt=day_start(f.end + dt.timedelta(days=1)))
    return qs


def ward_requests(f: ReportFilters, ward: int, limit: int | None = None) -> dict[str, Any]:
    """The ward's requests in the filters, newest first, at most `limit` listed: ticket, type, opened, age,
    status, due, crew (of the latest published stop), duplicates linked to it. Two queries in all."""
    limit = limit or settings.REPORTS_WARD_ROWS
    qs = _rows_queryset(f, ward)
    dupes = ServiceRequest.objects.filter(parent=OuterRef("pk")).values("parent").annotate(n=Count("pk"))
    crew = Stop.objects.filter(request=OuterRef("pk"), route__plan__status="published").order_by("-route__plan_id")
    rows = list(
        qs.select_related("service_type")
        .annotate(
            crew_name=Subquery(crew.values("route__crew__name")[:1]),
            # A subquery per listed row (500 at most), not a join over every duplicate in the city.
            n_duplicates=Coalesce(Subquery(dupes.values("n")[:1]), 0),
        )
        .order_by("-requested_at", "-id")[:limit]
    )
    now = timezone.now()
    listed = []
    for r in rows:
        lon, lat = (r.location.x, r.location.y) if r.location else (None, None)
        lon, lat, address, precision = public_place(r.service_type.location_private, lon, lat, r.address)
        listed.append(
            {
                "ticket": r.ticket,
                "type": r.service_type.name,
                "type_code": r.service_type.code,
                "opened": timezone.localtime(r.requested_at),
                "age_days": round((((r.closed_at or now) - r.requested_at).total_seconds()) / 86400, 1),
                "status": r.status,
                "due": timezone.localtime(r.due_at) if r.due_at else None,
                "overdue": bool(r.is_open and r.due_at and r.due_at < now),
                "crew": r.crew_name or "",
                "duplicates": r.n_duplicates,
                "address": address,
                "lon": lon,
                "lat": lat,
                "precision": precision,
            }
        )
    return {"rows": listed, "limit": limit, "sensitive_not_listed": _rows_queryset(f, ward, sensitive=True).count()}


def repeat_places(f: ReportFilters, ward: int) -> list[dict[str, Any]]:
    """The ward's top repeat locations in the filters' period: at least REPEAT_MIN requests of one type within
    REPEAT_RADIUS_M (the planner's method, `stats.repeat_locations`), largest first."""
    values = list(
        _rows_queryset(f, ward)
        .filter(location__isnull=False, service_type__location_private=False)
        .order_by("requested_at", "id")
        .values_list("service_type__name", "location", "address")[:50_000]
    )
    if not values:
        return []
    names = np.array([v[0] for v in values], dtype=object)
    lon = np.array([v[1].x for v in values])
    lat = np.array([v[1].y for v in values])
    x, y = stats.to_metres(lon, lat)
    found = []
    for name in sorted(set(names.tolist())):
        idx = np.flatnonzero(names == name)
        for rep in stats.repeat_locations(x[idx], y[idx], REPEAT_RADIUS_M, REPEAT_MIN):
            centre = int(idx[rep.centre])
            found.append(
                {
                    "type": name,
                    "count": len(rep.members),
                    "address": values[centre][2] or f"{lat[centre]:.5f}, {lon[centre]:.5f}",
                    "lon": round(float(lon[centre]), 6),
                    "lat": round(float(lat[centre]), 6),
                }
            )
    found.sort(key=lambda r: (-r["count"], r["type"], r["address"]))
    return found[:REPEAT_LIMIT]


def district_label(number: int) -> str:
    """The district as the city writes it ("District 3B", "09410") on the map in force; its number if none."""
    return district_codes().get(number) or str(number)


def ward_report(f: ReportFilters, ward: int) -> dict[str, Any]:
    """Everything the ward page shows, with a fixed number of queries."""
    wf = replace(f, ward=ward)
    end = f.end or timezone.localdate()
    trend_filters = replace(wf, start=end - dt.timedelta(weeks=TREND_WEEKS) + dt.timedelta(days=1), end=end)
    by_type = breakdown(wf, "type")
    by_type["rows"].sort(key=lambda r: (-r["raw"], r["label"]))  # the busiest types first (print keeps the top)
    flagged = [r for r in by_type["rows"] if r["flagged"]]
    worst = sorted(
        (r for r in flagged if r["sla_met"] + r["sla_missed"] >= FLAG_MIN_JUDGED),
        key=lambda r: (r["sla_compliance"], -r["raw"]),
    )
    trend = breakdown(trend_filters, "week")
    assert trend_filters.start is not None
    monday = trend_filters.start - dt.timedelta(days=trend_filters.start.weekday())
    weeks = {r["key"]: r for r in trend["rows"]}
    empty = finish({**EMPTY_ROW, "is_total": 0})
    trend["rows"] = [  # every week shown, a quiet one as zeros
        weeks.get(k) or {**empty, "key": k, "label": f"week of {k}"}
        for k in ((monday + dt.timedelta(weeks=i)).isoformat() for i in range((end - monday).days // 7 + 1))
    ]
    return {
        "ward": ward,
        "ward_label": district_label(ward),
        "filters": f,
        "by_type": by_type,
        "total": by_type["total"],
        "trend": trend,
        "requests": ward_requests(wf, ward),
        "repeats": repeat_places(wf, ward),
        "flagged_types": worst[:FLAG_LIST],
        "flagged_count": len(flagged),
        "target": settings.REPORTS_SLA_TARGET,
    }


def requests_geojson(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The listed requests as points (those with a place), for the page's map and the folium file."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": {
                    "ticket": r["ticket"],
                    "type": r["type"],
                    "status": r["status"],
                    "overdue": r["overdue"],
                    "address": r["address"],
                    "opened": r["opened"].strftime("%Y-%m-%d"),
                },
            }
            for r in rows
            if r["lon"] is not None
        ],
    }
