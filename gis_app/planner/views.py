"""The planner page and its runs: thin views over `runs` and `exports`. Planners (and administrators) only;
nothing here shows reporter contact data, and sensitive types never enter an analysis."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from gis_app.models import ServiceType
from gis_app.planner import exports
from gis_app.planner.analysis import parse_filters
from gis_app.planner.models import HotSpotRun
from gis_app.planner.runs import start_run
from gis_app.planner.stats import PlannerInputError
from layers.basemap import outlines_geojson
from layers.http import error_body
from layers.lookup import LayerNotLoaded
from layers.models import LayerKind

RUN = "planner.add_hotspotrun"
VIEW = "planner.view_hotspotrun"
MAX_BODY = 20_000


def _refuse(detail: str, status: int) -> JsonResponse:
    """An error in the project's one JSON shape (layers.http)."""
    return JsonResponse(error_body(detail, status), status=status)


def _allowed(request: HttpRequest, perm: str) -> JsonResponse | None:
    if not request.user.is_authenticated:
        return _refuse("sign in as a planner", 401)
    if not request.user.has_perm(perm):
        return _refuse("the planner role is needed", 403)
    return None


@login_required
def page(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(RUN):
        return render(request, "planner/forbidden.html", status=403)
    types = ServiceType.objects.filter(sensitive=False, active=True).order_by("name")
    return render(
        request,
        "planner/planner.html",
        {
            "types": types,
            "today": timezone.localdate(),
            "runs": HotSpotRun.objects.filter(state=HotSpotRun.State.DONE)[:10],
        },
    )


def _run_json(run: HotSpotRun) -> dict[str, Any]:
    base = reverse("planner:run", args=[run.pk])
    data: dict[str, Any] = {
        "id": run.pk,
        "url": base,
        "state": run.state,
        "stage": run.stage,
        "progress": round(run.progress, 3),
        "requests": run.requests,
        "params": run.params,
        "detail": run.detail,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    if run.state == HotSpotRun.State.DONE:
        data["downloads"] = {name: reverse("planner:export", args=[run.pk, name]) for name in sorted(EXPORTS)}
        if run.result:
            result = dict(run.result)
            result["cells"] = exports.cells_geojson(run.result, every=False)
            data["result"] = result
    return data


@require_POST
def runs(request: HttpRequest) -> JsonResponse:
    """Start an analysis: 201 with the result when it answered at once, 202 with the run's URL when queued."""
    refused = _allowed(request, RUN)
    if refused:
        return refused
    if len(request.body) > MAX_BODY:
        return _refuse(f"the filters may be at most {MAX_BODY} bytes", 413)
    try:
        data = json.loads(request.body or b"{}") if request.content_type == "application/json" else request.POST
        if not isinstance(data, dict) and not hasattr(data, "get"):
            raise PlannerInputError("send the filters as a JSON object")
        run = start_run(parse_filters(data), request.user)
    except (ValueError, PlannerInputError) as exc:  # JSON errors are ValueErrors too
        return _refuse(str(exc)[:500], 400)
    status = 201 if run.state in (HotSpotRun.State.DONE, HotSpotRun.State.FAILED) else 202
    response = JsonResponse(_run_json(run), status=status)
    response["Location"] = reverse("planner:run", args=[run.pk])
    return response


@require_GET
def run(request: HttpRequest, pk: int) -> JsonResponse:
    refused = _allowed(request, VIEW)
    if refused:
        return refused
    found = HotSpotRun.objects.filter(pk=pk).first()
    if found is None:
        return _refuse(f"no planner run {pk}", 404)
    return JsonResponse(_run_json(found))


def _outlines() -> dict[str, Any] | None:
    try:
        return dict(json.loads(outlines_geojson(LayerKind.WARDS)))
    except LayerNotLoaded:
        return None


EXPORTS: dict[str, tuple[str, Any]] = {
    "repeats.geojson": ("application/geo+json", lambda r: json.dumps(exports.repeats_geojson(r))),
    "repeats.csv": ("text/csv; charset=utf-8", exports.repeats_csv),
    "cells.geojson": ("application/geo+json", lambda r: json.dumps(exports.cells_geojson(r))),
    "cells.csv": ("text/csv; charset=utf-8", exports.cells_csv),
    "map.html": ("text/html; charset=utf-8", None),
}


@require_GET
def export(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    refused = _allowed(request, VIEW)
    if refused:
        return refused
    if name not in EXPORTS:
        raise Http404(f"no export {name}")
    found = get_object_or_404(HotSpotRun, pk=pk, state=HotSpotRun.State.DONE)
    content_type, make = EXPORTS[name]
    result = found.result or {}
    if make is None:
        body = exports.folium_map(result, _outlines(), f"Planner run {found.pk}: hot spots and repeat locations")
    else:
        body = make(result)
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="planner-run-{found.pk}-{name}"'
    return response
