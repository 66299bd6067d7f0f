"""Publishing a draft: requests assigned through the transitions module, the day's previous plan superseded,
per-crew changes recorded; a stale draft is refused with a conflict naming who published.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from gis_app.choices import Status
from gis_app.models import Department
from gis_app.transitions import MOVES, TransitionError, apply
from routing.models import STOP_UNDER_WAY, PlanStatus, Route, RoutePlan, Stop
from routing.planning.build import PlanningError
from routing.planning.save import current_plan


class PlanConflict(PlanningError):
    """Someone else published this day's plan since this draft was made."""


def _route_changes(old: Route | None, new: Route) -> dict[str, Any]:
    new_seq = [s.request.ticket for s in new.stops.all()]
    if old is None:
        return {"first_version": True, "added": new_seq, "removed": [], "reordered": False, "removed_after_start": []}
    old_stops = list(old.stops.all())
    old_seq = [s.request.ticket for s in old_stops]
    removed = [t for t in old_seq if t not in new_seq]
    kept_old = [t for t in old_seq if t in new_seq]
    kept_new = [t for t in new_seq if t in old_seq]
    return {
        "first_version": False,
        "added": [t for t in new_seq if t not in old_seq],
        "removed": removed,
        "reordered": kept_old != kept_new,
        "removed_after_start": [
            s.request.ticket for s in old_stops if s.request.ticket in removed and s.status in STOP_UNDER_WAY
        ],
    }


@transaction.atomic
def publish_plan(plan: RoutePlan, *, by: Any = None) -> RoutePlan:
    """Make `plan` the day's plan: supersede the previous one, assign its requests, record route changes.

    Serialised on the department row; refused (PlanConflict) when the day's published plan is no longer
    the one this draft was built from, or when the draft is not a draft any more.
    """
    Department.objects.select_for_update().get(pk=plan.department_id)
    plan = RoutePlan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != PlanStatus.DRAFT:
        raise PlanConflict(f"plan #{plan.pk} is {plan.status}, not a draft; only a draft can be published")
    current = current_plan(plan.service_date, plan.department, plan.skill_group)
    if current is not None and current.pk != plan.based_on_id:
        who = current.published_by or "another dispatcher"
        raise PlanConflict(
            f"plan #{current.pk} for {plan.service_date} was published by {who} at "
            f"{timezone.localtime(current.published_at):%H:%M:%S} after this draft was made from "
            f"{'plan #' + str(plan.based_on_id) if plan.based_on_id else 'no plan'}; re-run from the current plan"
        )
    old_routes: dict[int, Route] = {}
    if current is not None:
        old_routes = {r.crew_id: r for r in current.routes.prefetch_related("stops__request")}
        current.status = PlanStatus.SUPERSEDED
        current.save(update_fields=["status"])
    plan.status = PlanStatus.PUBLISHED
    plan.published_at = timezone.now()
    plan.published_by = by if getattr(by, "pk", None) else None
    plan.save(update_fields=["status", "published_at", "published_by"])
    label = f"dispatch plan #{plan.pk}"
    in_plan: set[int] = set()
    flagged: list[str] = []
    for route in plan.routes.select_related("crew").prefetch_related("stops__request"):
        old = old_routes.pop(route.crew_id, None)
        route.version = (old.version + 1) if old else 1
        route.changes = _route_changes(old, route)
        route.save(update_fields=["version", "changes"])
        flagged += route.changes["removed_after_start"]
        for stop in route.stops.all():
            in_plan.add(stop.request_id)
            req = stop.request
            if req.status in MOVES["open"].sources:
                req = apply(req, "open", by=by, actor_label=label, note="opened for dispatch")
            if req.status in MOVES["assign"].sources:
                apply(
                    req,
                    "assign",
                    by=by,
                    actor_label=label,
                    note=f"{route.crew.name}, stop {stop.sequence}, ETA {timezone.localtime(stop.eta):%H:%M}",
                )
    for route in old_routes.values():  # crews dropped from the day entirely
        flagged += [s.request.ticket for s in route.stops.all() if s.status in STOP_UNDER_WAY]
    if current is not None:
        for stop in Stop.objects.filter(route__plan=current).select_related("request"):
            req = stop.request
            if stop.request_id not in in_plan and req.status == Status.ASSIGNED:
                with contextlib.suppress(TransitionError):
                    apply(req, "unassign", by=by, actor_label=label, note="not in the new plan; back in the pool")
    if flagged:
        stats = dict(plan.stats)
        stats["removed_after_start"] = sorted(set(flagged))
        plan.stats = stats
        plan.save(update_fields=["stats"])
    return plan
