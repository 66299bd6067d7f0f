"""Spatial deduplication: one issue, many reporters.

`candidates()` finds, in one PostGIS query, the issues a new report may repeat: same type, no parent,
within the type's radius on the ground (ST_DWithin on geography, served by GiST indexes on
location::geography), filed within the type's window before it, still open (or closed only recently);
each is scored from distance, time apart, same address and same asset, and comes with its reasons.
`auto_link()` makes a new request a child of the best candidate when the score clears the type's
threshold; below it the candidates are only suggestions for staff. Staff verbs (mark duplicate, unmerge,
re-parent, merge) go through gis_app.transitions, so every change is audited and children always point
at the root. With `as_of`, the same query answers "what existed, and was still open, at that moment":
that is how the benchmark replays history without re-filing it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from gis_app.audit import record
from gis_app.choices import OPEN_STATUSES, LocatedBy
from gis_app.models import ServiceRequest, ServiceType
from gis_app.transitions import DONE, LINKABLE, TransitionError, apply
from layers.normalize import address_key

MAX_ROWS = 50  # nearest rows scored per lookup (then the most recent: at one busy address dozens sit at 0 m)
POOL_ROWS = 4 * MAX_ROWS  # open rows read nearest first before that order (a pile-up at one point: _LIVE_SQL)
# Weights of the score's parts; a part only counts when both requests have it (an address, an asset id).
W_DISTANCE, W_TIME, W_ADDRESS, W_ASSET = 0.6, 0.2, 0.15, 0.05
DISTANCE_SCALE_M = 25.0
TIME_SCALE_H = 24.0


@dataclass
class Candidate:
    request_id: int
    ticket: str
    status: str
    metres: float
    hours: float
    same_address: bool
    same_asset: bool
    score: float
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket,
            "status": self.status,
            "metres": round(self.metres, 1),
            "hours_apart": round(self.hours, 1),
            "score": round(self.score, 3),
            "reasons": self.reasons,
            "recurrence": self.status in DONE,  # completed: offered as the same problem again, never as parent
        }


def score(
    metres: float, hours: float, same_address: bool | None, same_asset: bool | None, slack_m: float = 0.0
) -> float:
    """0…1: near and soon score high; a shared address or asset id adds when both sides have one. `slack_m` is
    how far apart the two points may be for where they were put alone (pin_slack_m of each side)."""
    near = max(0.0, metres - slack_m)
    parts = [(W_DISTANCE, math.exp(-near / DISTANCE_SCALE_M)), (W_TIME, math.exp(-abs(hours) / TIME_SCALE_H))]
    if same_address is not None:
        parts.append((W_ADDRESS, 1.0 if same_address else 0.0))
    if same_asset is not None:
        parts.append((W_ASSET, 1.0 if same_asset else 0.0))
    return sum(w * v for w, v in parts) / sum(w for w, _ in parts)


def pin_slack_m(located_by: str) -> float:
    """How far a report's point may lie from its problem for the way it was placed. Two reports of one address
    are geocoded to one point, so their distance is the problems' distance; two residents' pins for one pothole
    land where each stood or tapped, metres apart (settings.DEDUP_PIN_UNCERTAINTY_M each). A city's labelled
    pairs are geocoded addresses, so the threshold learned from them would otherwise hold pins to an address's
    precision and leave a storm of pinned reports unlinked."""
    return float(settings.DEDUP_PIN_UNCERTAINTY_M) if located_by == LocatedBy.PIN else 0.0


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"  # the code's own status names, never input


# What both lookups read, and the roots they consider: same type, unlinked, near, filed within the window.
_COLUMNS = """r.id, r.ticket, r.status, r.address, r.attributes ->> 'asset_id' AS asset, r.requested_at,
       r.located_by, ST_Distance(r.location::geography, ST_GeogFromText(%(point)s)) AS metres"""
_NEAR = """r.service_type_id = %(type)s AND r.parent_id IS NULL AND r.id <> %(exclude)s
   AND r.location IS NOT NULL AND ST_DWithin(r.location::geography, ST_GeogFromText(%(point)s), %(radius)s)
   AND r.requested_at >= %(since)s AND r.requested_at <= %(at)s"""
# Replaying a closed history (evaluation, `as_of`): every root of the type near the point in the window that was
# not yet closed, or closed only recently, at that moment.
_AS_OF_SQL = f"""
SELECT {_COLUMNS} FROM gis_app_servicerequest r
 WHERE {_NEAR} AND (r.closed_at IS NULL OR r.closed_at >= %(recent)s)
 ORDER BY metres, r.requested_at DESC, r.id
 LIMIT %(limit)s
"""
# A live lookup (intake, the clerk's page): open roots, and roots closed within the type's recent days, each
# branch on a partial index of its own (migration 0020: the same status lists, so the planner can use them).
# Why: a history piles up at busy points (a city's information calls are all filed at City Hall: 2,800 closed
# there in Chicago's demo), and one scan over every root near the point cost up to 10-14 ms of database time per
# report. The open branch reads its rows nearest first (KNN) and stops after POOL_ROWS: where thousands of
# unlinked open reports sit on one point, the pool is that many rows of the pile, all at the same distance.
_LIVE_SQL = f"""
SELECT * FROM (
 (SELECT {_COLUMNS} FROM gis_app_servicerequest r WHERE {_NEAR} AND r.status IN {_in(OPEN_STATUSES)}
   ORDER BY r.location::geography <-> ST_GeogFromText(%(point)s) LIMIT %(pool)s)
 UNION ALL
 (SELECT {_COLUMNS} FROM gis_app_servicerequest r WHERE {_NEAR} AND r.status IN {_in(DONE)}
   AND r.closed_at >= %(recent)s)
) nearest
 ORDER BY metres, requested_at DESC, id
 LIMIT %(limit)s
"""


def candidates(
    service_type: ServiceType,
    point: Any,
    *,
    at: dt.datetime | None = None,
    address: str = "",
    asset_id: str = "",
    exclude_pk: int | None = None,
    limit: int = 5,
    as_of: bool = False,
    radius_m: float | None = None,
    window_days: float | None = None,
    located_by: str = "",
) -> list[Candidate]:
    """The issues a report of `service_type` at `point` (filed at `at`, placed as `located_by` says) may repeat,
    best first. An address is compared only where both were placed by theirs: a pin's address is the nearest one
    to the pin, which says nothing the distance does not."""
    at = at or timezone.now()
    radius = float(radius_m if radius_m is not None else service_type.dedup_radius_m)
    window = float(window_days if window_days is not None else service_type.dedup_window_days)
    recent = at - dt.timedelta(days=float(service_type.dedup_recent_closed_days))
    sql = _AS_OF_SQL if as_of else _LIVE_SQL
    params: dict[str, Any] = {
        "point": f"SRID=4326;POINT({point.x} {point.y})",
        "type": service_type.pk,
        "exclude": exclude_pk or -1,
        "radius": radius,
        "since": at - dt.timedelta(days=window),
        "at": at,
        "recent": recent,
        "limit": MAX_ROWS,
        "pool": POOL_ROWS,
    }
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    mine = address_key(address) if located_by != LocatedBy.PIN else ""
    slack = pin_slack_m(located_by)
    found = []
    for pk, ticket, status, their_address, their_asset, requested_at, their_placing, metres in rows:
        hours = (at - requested_at).total_seconds() / 3600
        typed = mine and their_address and their_placing != LocatedBy.PIN
        same_addr = (mine == address_key(their_address)) if typed else None
        same_asset = (asset_id == their_asset) if asset_id and their_asset else None
        s = score(metres, hours, same_addr, same_asset, slack + pin_slack_m(their_placing))
        reasons = [f"same type, {metres:.0f} m, {_ago(hours)} apart"]
        if same_addr:
            reasons.append("same address")
        if same_asset:
            reasons.append(f"same asset {asset_id}")
        if status not in OPEN_STATUSES:
            reasons.append(f"{status} recently")
        found.append(Candidate(pk, ticket, status, float(metres), hours, bool(same_addr), bool(same_asset), s, reasons))
    # Ties go to the earliest report (the issue others repeat), not to whichever row id came first.
    found.sort(key=lambda c: (-c.score, c.metres, -c.hours, c.request_id))
    return found[:limit]


def _ago(hours: float) -> str:
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"


def for_request(req: ServiceRequest, *, limit: int = 5, as_of: bool = False) -> list[Candidate]:
    if req.location is None:
        return []
    return candidates(
        req.service_type,
        req.location,
        at=req.requested_at,
        address=req.address,
        asset_id=str((req.attributes or {}).get("asset_id", "")),
        exclude_pk=req.pk,
        limit=limit,
        as_of=as_of,
        located_by=req.located_by,
    )


@dataclass
class Decision:
    """What dedup does with a new report: link it, offer a recurrence, or leave it to a person."""

    link: tuple[Candidate, ServiceRequest] | None = None  # the open issue it repeats, linked on its own
    recurrence: Candidate | None = None  # a completed issue it matches: offered, never linked
    suggest_only: bool = False  # a match, but the type's threshold is not learned from enough pairs yet


def decide(req: ServiceRequest, *, as_of: bool = False) -> Decision:
    """Link `req` to the best open candidate whose score clears the type's threshold, once that threshold was
    learned from settings.DEDUP_MIN_PAIRS labelled pairs (before, dedup only suggests). A completed issue is
    never a parent: a report at the same place a day after the work is usually new work (a fresh dump), so it is
    offered as a possible recurrence instead. `req` may be unsaved (intake asks before the first save)."""
    if req.parent_id is not None or req.status not in LINKABLE:
        return Decision()
    stype = req.service_type
    above = [c for c in for_request(req, limit=5, as_of=as_of) if c.score >= stype.dedup_threshold]
    recurrence = next((c for c in above if c.status in DONE), None)
    best = next((c for c in above if c.status not in DONE), None)
    if best is None:
        return Decision(recurrence=recurrence)
    if stype.dedup_learned_pairs < settings.DEDUP_MIN_PAIRS:
        return Decision(recurrence=recurrence, suggest_only=True)
    # Candidates are roots (the lookup skips rows with a parent): the issue is the candidate's own row, named
    # by what the lookup read, not read again.
    issue = ServiceRequest(pk=best.request_id, ticket=best.ticket, parent=None)
    issue._state.adding, issue._state.db = False, "default"
    return Decision(link=(best, issue), recurrence=recurrence)


def recurrence_entry(candidate: Candidate) -> dict[str, Any]:
    """The audit entry that offers a completed issue as the one a new report may repeat (staff only)."""
    return {
        "verb": "possible_recurrence",
        "actor_label": "dedup",
        "new": {"of": candidate.ticket},
        "note": f"possibly {candidate.ticket} again ({candidate.status}): {'; '.join(candidate.reasons)}",
        "public": False,
    }


def link_note(best: Candidate) -> str:
    return f"linked automatically (score {best.score:.2f}): {'; '.join(best.reasons)}"


def auto_link(req: ServiceRequest, *, by: Any = None, as_of: bool = False) -> Candidate | None:
    """Link `req` to its best candidate when the score clears the type's threshold; returns that candidate."""
    found = decide(req, as_of=as_of).link
    if found is None:
        return None
    best, parent = found
    linked = apply(
        req,
        "mark_duplicate",
        by=by,
        actor_label="dedup" if by is None else "",
        note=link_note(best),
        parent=parent,
    )
    for f in req._meta.concrete_fields:  # the caller's instance as stored, without reading it again
        setattr(req, f.attname, getattr(linked, f.attname))
    req.parent = linked.parent
    return best


# ---- staff verbs ------------------------------------------------------------------------------------------


@transaction.atomic
def reparent(root: ServiceRequest, *, by: Any = None) -> int:
    """`root` turned out to be a duplicate itself: move its children to its own root (no chains)."""
    root.refresh_from_db()
    if root.parent_id is None:
        return 0
    target = root.parent
    assert target is not None
    moved = 0
    for child in ServiceRequest.objects.select_for_update().filter(parent=root):
        child.parent = target
        child.version += 1
        child.save(update_fields=["parent", "version", "updated_at"])
        for sub in child.subscriptions.all():
            target.subscriptions.get_or_create(
                email=sub.email, phone=sub.phone, via=sub.via, defaults={"name": sub.name}
            )
        record(
            child,
            "reparented",
            by=by,
            old={"parent": root.ticket},
            new={"parent": target.ticket},
            note=f"{root.ticket} is itself a duplicate of {target.ticket}",
        )
        moved += 1
    return moved


@transaction.atomic
def mark_duplicate_of(
    child: ServiceRequest, parent: ServiceRequest, *, by: Any = None, note: str = ""
) -> ServiceRequest:
    """Staff: `child` repeats `parent` (or its root); `child`'s own children follow it to the root."""
    linked = apply(child, "mark_duplicate", by=by, parent=parent, note=note or f"duplicate of {parent.ticket}")
    reparent(linked, by=by)
    return linked


@transaction.atomic
def merge(keep: ServiceRequest, other: ServiceRequest, *, by: Any = None) -> ServiceRequest:
    """Two open issues are one: `other` (and its reporters and children) join `keep`."""
    if keep.pk == other.pk:
        raise TransitionError("cannot merge an issue with itself")
    return mark_duplicate_of(other, keep, by=by, note=f"merged into {keep.ticket}")


# ---- counts -------------------------------------------------------------------------------------------------


@dataclass
class IssueCounts:
    raw_requests: int
    reporters: int
    anonymous: int


def issue_counts(root: ServiceRequest) -> IssueCounts:
    """Raw requests (the issue and its duplicates), distinct identified reporters, anonymous reports."""
    rows = list(
        ServiceRequest.objects.filter(Q(pk=root.pk) | Q(parent=root)).values_list(
            "reporter_email", "reporter_phone", "anonymous"
        )
    )
    people: set[str] = set()
    anonymous = 0
    for email, phone, anon in rows:
        key = (email or "").strip().lower() or "".join(ch for ch in (phone or "") if ch.isdigit())
        if anon or not key:
            anonymous += 1
        else:
            people.add(key)
    return IssueCounts(raw_requests=len(rows), reporters=len(people), anonymous=anonymous)


# ---- batch --------------------------------------------------------------------------------------------------


@dataclass
class DedupRunReport:
    checked: int = 0
    linked: int = 0
    suggestions: int = 0

    def lines(self) -> list[str]:
        return [
            f"checked {self.checked} requests: {self.linked} linked as duplicates, "
            f"{self.suggestions} with suggestions below the threshold"
        ]


def run_range(
    start: dt.datetime,
    end: dt.datetime,
    *,
    types: Iterable[ServiceType] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DedupRunReport:
    """Dedup every located, unlinked, open request filed in [start, end), oldest first, each against what
    existed before it. Idempotent: a linked request is skipped, an unlinked one gets the same answer again."""
    qs: QuerySet[ServiceRequest] = (
        ServiceRequest.objects.filter(
            requested_at__gte=start,
            requested_at__lt=end,
            parent__isnull=True,
            location__isnull=False,
            status__in=LINKABLE,
        )
        .select_related("service_type")
        .order_by("requested_at", "pk")
    )
    if types is not None:
        qs = qs.filter(service_type__in=list(types))
    ids = list(qs.values_list("pk", flat=True))
    report = DedupRunReport()
    for i, pk in enumerate(ids, start=1):
        req = ServiceRequest.objects.select_related("service_type").get(pk=pk)
        if req.parent_id is not None:
            continue
        report.checked += 1
        with transaction.atomic():
            linked = auto_link(req, as_of=True)
        if linked:
            report.linked += 1
        elif for_request(req, limit=1, as_of=True):
            report.suggestions += 1
        if progress and i % 100 == 0:
            progress(i, len(ids))
    return report
