"""The dispatcher page: the day's routes on an offline map, dropped jobs with reasons, pin/lock, re-run,
compare with the published plan, publish. Thin views over routing.planning; a re-run goes to Celery."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from celery.result import EagerResult
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from gis_app.models import Department
from routing.models import Crew, PlanStatus, RoutePlan, Stop
from routing.planning import PlanConflict, current_plan, next_working_day, publish_plan
from routing.planning.day import plan_routes

PERM = "routing.change_routeplan"
DROPPED_SHOWN = 200


def _day(text: str | None) -> dt.date:
    try:
        return dt.date.fromisoformat(text) if text else timezone.localdate()
    except ValueError:
        raise Http404(f"date must be YYYY-MM-DD; got {text!r}") from None


def _page_url(day: dt.date, department: Department, plan: RoutePlan | None = None) -> str:
    url = f"{reverse('routing:dispatch')}?date={day.isoformat()}&department={department.code}"
    return url + (f"&plan={plan.pk}" if plan else "")


@login_required
@permission_required(PERM, raise_exception=True)
def dispatch(request: HttpRequest) -> HttpResponse:
    departments = list(Department.objects.filter(crews__active=True).distinct().order_by("name"))
    day = _day(request.GET.get("date"))
    code = request.GET.get("department") or (departments[0].code if departments else "")
    department = Department.objects.filter(code=code).first()
    day_note = ""
    if department is not None and not request.GET.get("date"):
        # No day asked for and no crew works today (a weekend, a holiday): show the next day crews work.
        workday = next_working_day(department, day)
        if workday is not None and workday != day:
            day_note = f"No {department.name} crew works today ({day:%A}): showing {workday:%A %-d %B}."
            day = workday
    context: dict[str, Any] = {"departments": departments, "day": day, "department": department, "day_note": day_note}
    if department is None:
        return render(request, "routing/dispatch.html", context)
    published = current_plan(day, department)
    plans = RoutePlan.objects.filter(service_date=day, department=department).exclude(status=PlanStatus.DISCARDED)[:20]
    shown = None
    if request.GET.get("plan"):
        shown = get_object_or_404(RoutePlan, pk=request.GET["plan"], department=department, service_date=day)
    else:
        shown = next(
            (
                p
                for p in plans
                if p.status == PlanStatus.DRAFT and (published is None or p.created_at > published.created_at)
            ),
            published,
        )
    dropped = shown.dropped if shown else []
    solver_dropped = [d for d in dropped if d.get("stage") != "batch"]
    held = len(dropped) - len(solver_dropped)
    context.update(
        {
            "published": published,
            "plans": plans,
            "plan": shown,
            "crews": Crew.objects.filter(department=department, active=True).order_by("code"),
            "dropped": solver_dropped[:DROPPED_SHOWN],
            "dropped_more": max(0, len(solver_dropped) - DROPPED_SHOWN),
            "held_back": held,
            # Field reports the dispatcher must see: work reported after a stop moved, and stops crews could not do.
            "field_flags": list(
                Stop.objects.filter(route__plan=shown).exclude(flags=[]).select_related("request", "route__crew")
            )
            if shown
            else [],
            "not_done": list(
                Stop.objects.filter(route__plan=shown, status="could_not_complete").select_related(
                    "request", "route__crew"
                )
            )
            if shown
            else [],
            "compare": _compare(published, shown) if shown and published and shown.pk != published.pk else None,
            # A queued run is looked for from when it was queued (it may finish before this page is drawn).
            "since": request.GET.get("since") or timezone.now().isoformat(),
        }
    )
    return render(request, "routing/dispatch.html", context)


def _compare(current: RoutePlan, draft: RoutePlan) -> list[dict[str, Any]]:
    rows = []
    for key, label in (
        ("jobs_planned", "jobs planned"),
        ("drive_minutes", "drive minutes"),
        ("distance_km", "distance km"),
        ("sla_misses", "SLA misses"),
        ("crews_used", "crews used"),
    ):
        a, b = current.stats.get(key), draft.stats.get(key)
        diff = round(b - a, 1) if isinstance(a, int | float) and isinstance(b, int | float) else None
        rows.append({"label": label, "current": a, "draft": b, "diff": diff})
    return rows


@login_required
@permission_required(PERM, raise_exception=True)
def plan_geojson(request: HttpRequest, pk: int) -> JsonResponse:
    """Routes (street lines) and numbered stops of a plan, for the map."""
    plan = get_object_or_404(RoutePlan, pk=pk)
    features: list[dict[str, Any]] = []
    routes = list(plan.routes.select_related("crew").order_by("crew__code"))
    stops = (
        Stop.objects.filter(route__plan=plan)
        .select_related("request__service_type", "route__crew")
        .order_by("route__crew__code", "sequence")
    )
    colour = {r.pk: i for i, r in enumerate(routes)}
    for r in routes:
        if r.geometry is None:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": r.geometry.coords},
                "properties": {
                    "kind": "route",
                    "crew": r.crew.code,
                    "crew_name": r.crew.name,
                    "colour": colour[r.pk],
                    "drive_minutes": round(r.drive_seconds / 60),
                    "version": r.version,
                },
            }
        )
    for s in stops:
        loc = s.request.location
        if loc is None:  # dispatch only routes located requests; a later edit cannot remove it (relocate refuses)
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [loc.x, loc.y]},
                "properties": {
                    "kind": "stop",
                    "crew": s.route.crew.code,
                    "colour": colour[s.route_id],
                    "sequence": s.sequence,
                    "ticket": s.request.ticket,
                    "type": s.request.service_type.name,
                    "eta": timezone.localtime(s.eta).strftime("%H:%M"),
                    "status": s.status,
                    "locked": s.locked,
                },
            }
        )
    return JsonResponse({"type": "FeatureCollection", "features": features, "plan": plan.pk, "status": plan.status})


@login_required
@permission_required(PERM, raise_exception=True)
def latest(request: HttpRequest) -> JsonResponse:
    """The newest plan for a day and department created after `after` (the page polls while a run is queued)."""
    department = get_object_or_404(Department, code=request.GET.get("department", ""))
    qs = RoutePlan.objects.filter(department=department, service_date=_day(request.GET.get("date")))
    after = request.GET.get("after")
    if after:
        try:
            qs = qs.filter(created_at__gt=dt.datetime.fromisoformat(after))
        except ValueError:
            return JsonResponse({"detail": f"after must be an ISO datetime; got {after!r}"}, status=400)
    plan = qs.order_by("-created_at").first()
    return JsonResponse({"plan": plan.pk if plan else None})


@require_POST
@login_required
@permission_required(PERM, raise_exception=True)
def run(request: HttpRequest) -> HttpResponse:
    department = get_object_or_404(Department, code=request.POST.get("department", ""))
    day = _day(request.POST.get("date"))
    source = RoutePlan.objects.filter(pk=request.POST.get("from_plan") or 0, department=department).first()
    try:
        limit = float(request.POST.get("time_limit") or settings.ROUTING_TIME_LIMIT_SECONDS)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 600:
        messages.error(request, "time limit must be between 1 and 600 seconds")
        return redirect(_page_url(day, department, source))
    queued_at = timezone.now()
    result = plan_routes.delay(
        day.isoformat(),
        department.code,
        time_limit=limit,
        user_id=request.user.pk,
        pins=source.pins if source else None,
        locks=source.locks if source else None,
    )
    if isinstance(result, EagerResult):  # run inline (tests, CELERY_TASK_ALWAYS_EAGER): the draft exists already
        return redirect(_page_url(day, department, RoutePlan.objects.get(pk=result.result)))
    # A worker runs it; there is no result backend to ask, so the page polls for the new draft instead.
    messages.info(request, "Planning has started; the map updates when the new draft is ready.")
    return redirect(_page_url(day, department) + f"&waiting=1&since={quote(queued_at.isoformat())}")


@require_POST
@login_required
@permission_required(PERM, raise_exception=True)
def pin(request: HttpRequest, pk: int) -> HttpResponse:
    """Pin a job to a crew (or lock a stop in place) for the next run; the change applies to re-runs of this plan."""
    plan = get_object_or_404(RoutePlan, pk=pk)
    ticket = request.POST.get("ticket", "")
    stop = Stop.objects.filter(route__plan=plan, request__ticket=ticket).select_related("route__crew").first()
    in_dropped = any(d["ticket"] == ticket for d in plan.dropped)
    if stop is None and not in_dropped:
        messages.error(request, f"ticket {ticket!r} is not in plan #{plan.pk}")
        return redirect(_page_url(plan.service_date, plan.department, plan))
    action = request.POST.get("action", "pin")
    pins, locks = dict(plan.pins), {k: list(v) for k, v in plan.locks.items()}
    if action == "lock":
        if stop is None:
            messages.error(request, "only a stop on a route can be locked; pin a dropped job to a crew instead")
            return redirect(_page_url(plan.service_date, plan.department, plan))
        chain = locks.setdefault(stop.route.crew.code, [])
        if ticket in chain:
            chain.remove(ticket)
            messages.info(request, f"{ticket} unlocked")
        else:
            # Keep a crew's locked stops in the order the plan visits them.
            order = list(stop.route.stops.values_list("request__ticket", flat=True))
            chain.append(ticket)
            chain.sort(key=lambda t: order.index(t) if t in order else len(order))
            messages.info(request, f"{ticket} locked to {stop.route.crew.name} at stop {stop.sequence}")
    else:
        crew = Crew.objects.filter(code=request.POST.get("crew", ""), department=plan.department).first()
        if crew is None:
            pins.pop(ticket, None)
            messages.info(request, f"{ticket} unpinned")
        else:
            pins[ticket] = crew.code
            messages.info(request, f"{ticket} pinned to {crew.name}")
    plan.pins, plan.locks = pins, {k: v for k, v in locks.items() if v}
    plan.save(update_fields=["pins", "locks"])
    return redirect(_page_url(plan.service_date, plan.department, plan))


@require_POST
@login_required
@permission_required(PERM, raise_exception=True)
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(RoutePlan, pk=pk)
    try:
        publish_plan(plan, by=request.user)
    except PlanConflict as exc:
        messages.error(request, f"Not published: {exc}")
        return redirect(_page_url(plan.service_date, plan.department, plan))
    messages.success(request, f"Plan #{plan.pk} published: its requests are assigned and crews can pull routes.")
    return redirect(_page_url(plan.service_date, plan.department, plan))
