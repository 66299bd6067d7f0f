"""The dispatcher page: the day's routes on an offline map, dropped jobs with reasons, pin/lock, re-run,
compare with the published plan, publish. Thin views over routing.planning; a re-run goes to Celery."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from gis_app import outbox
from gis_app.celery import app
from gis_app.models import Department
from routing.models import Crew, PlanRun, PlanStatus, RoutePlan, Stop
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
    code = request.GET.get("department") or (departments[0].code if departments else "")
    department = Department.objects.filter(code=code).first()
    day, day_note = _shown_day(request.GET.get("date"), department)
    run = (
        PlanRun.objects.filter(pk=request.GET.get("run") or 0).first()
        if str(request.GET.get("run", "")).isdigit()
        else None
    )
    context: dict[str, Any] = {
        "departments": departments,
        "day": day,
        "department": department,
        "day_note": day_note,
        "run": run,
    }
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
    against = _compared_with(str(request.GET.get("compare", "")), shown, published)
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
            "compare": _compare(against, shown) if shown and against else None,
            "compare_crews": _compare_crews(against, shown) if shown and against else [],
            "against": against,
            "lock_problems": _lock_problems(shown) if shown else [],
        }
    )
    return render(request, "routing/dispatch.html", context)


def _shown_day(asked: str | None, department: Department | None) -> tuple[dt.date, str]:
    """The day asked for; with none asked for and no crew working today (a weekend, a holiday), the next day
    crews work, and a note saying so."""
    day = _day(asked)
    if department is None or asked:
        return day, ""
    workday = next_working_day(department, day)
    if workday is None or workday == day:
        return day, ""
    return workday, f"No {department.name} crew works today ({day:%A}): showing {workday:%A %-d %B}."


def _compared_with(asked: str, shown: RoutePlan | None, published: RoutePlan | None) -> RoutePlan | None:
    """The plan the shown one is compared with: the one asked for (?compare=ID, same day), else the published."""
    if shown is None:
        return None
    other = (
        RoutePlan.objects.filter(pk=int(asked), department=shown.department, service_date=shown.service_date).first()
        if asked.isdigit()
        else None
    ) or published
    return None if other is None or other.pk == shown.pk else other


def _lock_problems(plan: RoutePlan) -> list[str]:
    """Locks the solver could not hold in this plan (a crew off shift, a stop that no longer fits), and why."""
    if not plan.locks:
        return []
    placed = {
        t: (code, name)
        for t, code, name in Stop.objects.filter(route__plan=plan).values_list(
            "request__ticket", "route__crew__code", "route__crew__name"
        )
    }
    reasons = {d["ticket"]: d.get("detail") or d.get("reason", "") for d in plan.dropped}
    problems = []
    for code, chain in plan.locks.items():
        for ticket in chain:
            where = placed.get(ticket)
            if where is None:
                problems.append(f"{ticket} could not be held on {code}: {reasons.get(ticket, 'not in this plan')}")
            elif where[0] != code:
                problems.append(f"{ticket} could not be held on {code}: it went to {where[1]}")
    return problems


def _compare_crews(before: RoutePlan, after: RoutePlan) -> list[dict[str, Any]]:
    """Per crew, what moved between two plans: stops and drive minutes before and after, tickets added (new to
    the crew: from the pool or another crew), removed, and kept but visited in another place."""
    crews: dict[str, dict[str, Any]] = {}
    for which, plan in (("before", before), ("after", after)):
        for route in plan.routes.select_related("crew"):
            row = crews.setdefault(route.crew.code, {"crew": route.crew.name, "before": [], "after": []})
            row[f"{which}_minutes"] = round(route.drive_seconds / 60)
        for code, ticket in (
            Stop.objects.filter(route__plan=plan)
            .order_by("sequence")
            .values_list("route__crew__code", "request__ticket")
        ):
            crews[code][which].append(ticket)
    rows = []
    for code in sorted(crews, key=lambda c: crews[c]["crew"]):
        row = crews[code]
        a, b = row["before"], row["after"]
        kept = [t for t in b if t in a]
        rows.append(
            {
                "crew": row["crew"],
                "stops_before": len(a),
                "stops_after": len(b),
                "minutes_before": row.get("before_minutes", 0),
                "minutes_after": row.get("after_minutes", 0),
                "added": [t for t in b if t not in a],
                "removed": [t for t in a if t not in b],
                "moved": [t for t in kept if [x for x in a if x in kept].index(t) != kept.index(t)],
            }
        )
    return rows


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
                    "crew_name": s.route.crew.name,
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
    by = request.user if request.user.is_authenticated else None
    started = PlanRun.objects.create(department=department, service_date=day, requested_by=by)
    # Through the outbox: with the broker away, the run waits (and the page says so) instead of failing.
    outbox.send_now(
        plan_routes,
        day.isoformat(),
        department.code,
        time_limit=limit,
        user_id=request.user.pk,
        pins=source.pins if source else None,
        locks=source.locks if source else None,
        run_id=started.pk,
    )
    if app.conf.task_always_eager:  # run inline (tests, CELERY_TASK_ALWAYS_EAGER): it has ended already
        started.refresh_from_db()
        if started.state == PlanRun.State.FAILED:
            messages.error(request, f"Planning failed: {started.detail}")
            return redirect(_page_url(day, department, source))
        return redirect(_page_url(day, department, started.plan))
    # A worker runs it: the page asks how the run is going until it ends, then shows the draft or the reason.
    messages.info(request, "Planning has started; the map updates when the new draft is ready.")
    return redirect(_page_url(day, department) + f"&run={started.pk}")


@login_required
@permission_required(PERM, raise_exception=True)
def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    """How a queued planning run is going: queued, running, done (with its draft) or failed (with why)."""
    found = get_object_or_404(PlanRun, pk=pk)
    waited = (timezone.now() - found.created_at).total_seconds()
    return JsonResponse(
        {
            "state": found.state,
            "plan": found.plan_id,
            "detail": found.detail,
            "waited_seconds": round(waited),
            "page": _page_url(found.service_date, found.department, found.plan) if found.plan_id else None,
        }
    )


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
        code, crew_name = stop.route.crew.code, stop.route.crew.name
        order = list(stop.route.stops.order_by("sequence").values_list("request__ticket", flat=True))
        chain = [t for t in order if t in locks.get(code, [])]
        at = order.index(ticket)
        if ticket in chain:
            # Unlocking a stop frees it and what follows; the stops before it stay held.
            locks[code] = order[:at]
            messages.info(request, f"{ticket} unlocked" + (f" (stops 1 to {at} stay locked)" if at else ""))
        else:
            # A lock holds the stop at its place: the solver keeps a locked chain at the start of the crew's
            # route, so the stops before it are held with it, in their order (else it would come first).
            locks[code] = order[: max(at + 1, len(chain))]
            held = f" with the {at} stop{'s' if at != 1 else ''} before it, in order" if at else ""
            messages.info(request, f"{ticket} locked to {crew_name} at stop {stop.sequence}{held}")
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
