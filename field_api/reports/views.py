"""Council ward map, ward pages, standard reports and the weekly review: thin, read-only views over `figures`
and `wards`. Everyone here needs `reports.view_reports` (council members, managers, planners, administrators);
no view writes anything, and none shows reporter contact data."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from field_api.reports import exports
from field_api.reports.figures import (
    AGE_LABELS,
    CSV_COLUMNS,
    DEFINITIONS,
    DIMENSIONS,
    ReportFilters,
    ReportInputError,
    breakdown,
    parse_report_filters,
    ward_map,
    weekly_review,
)
from field_api.reports.models import CouncilSeat
from field_api.reports.wards import district_label, repeat_places, requests_geojson, ward_report, ward_requests
from gis_app.models import Department, ServiceType
from layers.http import error_body
from layers.lookup import LayerNotLoaded

PERM = "reports.view_reports"
MEASURES = {
    "open_per_km2": "Open requests per km²",
    "overdue_share": "Share of open requests past their due date",
    "median_age": "Median age of open requests (days)",
}
DEFAULT_DAYS = 90


def _refuse(request: HttpRequest, detail: str, status: int) -> HttpResponse:
    if request.path.endswith((".json", ".csv", ".geojson")):
        return JsonResponse(error_body(detail, status), status=status)
    return render(request, "reports/problem.html", {"detail": detail}, status=status)


def reading_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """What every view here shares: signed in (else the sign-in page), GET only, the reports permission (else a
    403 that says who the pages are for); a filter it cannot use is a 400 and a map not loaded a 404, each in
    the page's own shape (`_refuse`)."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm(PERM):
            return _refuse(request, "These pages are for council members, managers and planners.", 403)
        try:
            return view(request, *args, **kwargs)
        except ReportInputError as exc:
            return _refuse(request, str(exc), 400)
        except LayerNotLoaded as exc:
            return _refuse(request, str(exc), 404)

    return login_required(require_GET(guarded))


def _filters(request: HttpRequest) -> ReportFilters:
    return parse_report_filters(request.GET, default_days=DEFAULT_DAYS)


def _seat(request: HttpRequest) -> int | None:
    if not request.user.is_authenticated:
        return None
    seat = CouncilSeat.objects.filter(user=request.user).values_list("ward_number", flat=True).first()
    return int(seat) if seat is not None else None


def _choices() -> dict[str, Any]:
    return {
        "types": ServiceType.objects.public().filter(active=True).order_by("name").values("code", "name"),
        "departments": Department.objects.order_by("name").values("code", "name"),
        "status_choices": [("all", "Any status"), ("open", "Open"), ("closed", "Closed")],
    }


@reading_page
def council(request: HttpRequest) -> HttpResponse:
    context = {
        **_choices(),
        "seat": _seat(request),
        "measures": MEASURES,
        "live_seconds": settings.REPORTS_LIVE_SECONDS,
        "today": timezone.localdate(),
        "start": timezone.localdate() - dt.timedelta(days=DEFAULT_DAYS - 1),
    }
    return render(request, "reports/council.html", context)


@reading_page
def ward_figures(request: HttpRequest) -> HttpResponse:
    """Per-ward counts for the council map (polled every few seconds: a new request shows without a reload)."""
    body = ward_map(_filters(request))
    body["seat"] = _seat(request)
    body["measures"] = MEASURES
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


@reading_page
def ward_page(request: HttpRequest, ward: int) -> HttpResponse:
    filters = _filters(request)
    report = ward_report(filters, ward)
    context = {
        **report,
        **_choices(),
        "seat": _seat(request),
        "points": requests_geojson(report["requests"]["rows"]),
        "by": "",
        "age_labels": AGE_LABELS,
        "query": urlencode(filters.query()),
        "definitions": DEFINITIONS,
        "trend_max": max([r["raw"] for r in report["trend"]["rows"]] or [1]),
    }
    return render(request, "reports/ward.html", context)


@reading_page
def ward_map_file(request: HttpRequest, ward: int) -> HttpResponse:
    """The ward's requests on a standalone folium map (Leaflet inlined): opens with no internet."""
    filters = replace(_filters(request), ward=ward)  # the listed requests and repeat places, not the whole page
    points = requests_geojson(ward_requests(filters, ward)["rows"])
    body = exports.ward_folium(ward, points, repeat_places(filters, ward), district_label(ward))
    response = HttpResponse(body, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ward-{ward}-map.html"'
    return response


@reading_page
def reports_page(request: HttpRequest) -> HttpResponse:
    by = request.GET.get("by") or "department"
    filters = _filters(request)
    table = breakdown(filters, by)
    rows = table["rows"]
    context = {
        **_choices(),
        "by": by,
        "dimensions": DIMENSIONS,
        "table": table,
        "filters": filters,
        "query": urlencode(filters.query()),
        "age_labels": AGE_LABELS,
        "definitions": DEFINITIONS,
        "open_max": max([r["open"] for r in rows] or [1]) or 1,
        "raw_max": max([r["raw"] for r in rows] or [1]) or 1,
        "target": settings.REPORTS_SLA_TARGET,
    }
    return render(request, "reports/reports.html", context)


def csv_text(table: dict[str, Any]) -> str:
    """The table as CSV: the same rows and the same rounded values the page prints, then the total."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _, title in CSV_COLUMNS])
    for row in [*table["rows"], table["total"]]:
        writer.writerow(["" if row.get(key) is None else row.get(key) for key, _ in CSV_COLUMNS])
    return out.getvalue()


@reading_page
def reports_csv(request: HttpRequest) -> HttpResponse:
    by = request.GET.get("by") or "department"
    table = breakdown(_filters(request), by)
    response = HttpResponse(csv_text(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="311-report-by-{by}.csv"'
    return response


@reading_page
def reports_map_file(request: HttpRequest) -> HttpResponse:
    """The ward figures of the report's filters on a standalone folium map (no internet needed)."""
    figures = ward_map(_filters(request))
    response = HttpResponse(exports.wards_folium(figures), content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="311-wards-map.html"'
    return response


@reading_page
def weekly(request: HttpRequest) -> HttpResponse:
    departments = list(Department.objects.order_by("name").values("code", "name"))
    code = request.GET.get("department") or (departments[0]["code"] if departments else "")
    if code and not any(d["code"] == code for d in departments):
        return _refuse(request, f"department: no department has the code {code[:60]!r}", 400)
    raw_end = request.GET.get("week_end") or ""
    try:
        week_end = dt.date.fromisoformat(raw_end) if raw_end else timezone.localdate()
    except ValueError:
        return _refuse(request, f"week_end must be a date as YYYY-MM-DD; got {raw_end[:40]!r}", 400)
    review = weekly_review(code, week_end) if code else None
    return render(request, "reports/weekly.html", {"departments": departments, "code": code, "review": review})
