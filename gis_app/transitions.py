"""The one place a request's status changes.

Each verb names where it may start and where it leads; an invalid move raises an error naming the
moves that are allowed. Every change bumps the request's version (optimistic locking: a caller that
read version N and finds N+1 gets a StaleVersion conflict, never a silent overwrite) and appends an
audit event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from gis_app.audit import record
from gis_app.choices import OPEN_STATUSES, Status
from gis_app.departments import choose_department
from gis_app.due_dates import due_at
from gis_app.models import ServiceRequest, Subscription
from gis_app.notifications import on_event
from gis_app.placement import place_requests


class TransitionError(ValueError):
    """A move that is not allowed, or lacks what it needs; the message says what would be accepted."""


class StaleVersion(TransitionError):
    """Someone changed the request after the caller read it."""


@dataclass(frozen=True)
class Move:
    sources: frozenset[str]
    target: str


S = Status
MOVES: dict[str, Move] = {
    "open": Move(frozenset({S.RECEIVED}), S.OPEN),
    "assign": Move(frozenset({S.OPEN, S.ON_HOLD}), S.ASSIGNED),
    "unassign": Move(frozenset({S.ASSIGNED}), S.OPEN),
    "start": Move(frozenset({S.OPEN, S.ASSIGNED}), S.IN_PROGRESS),
    "hold": Move(frozenset({S.OPEN, S.ASSIGNED, S.IN_PROGRESS}), S.ON_HOLD),
    "resume": Move(frozenset({S.ON_HOLD}), S.OPEN),
    "could_not_complete": Move(frozenset({S.ASSIGNED, S.IN_PROGRESS}), S.OPEN),
    "complete": Move(frozenset({S.OPEN, S.ASSIGNED, S.IN_PROGRESS}), S.COMPLETED),
    "close": Move(frozenset({S.COMPLETED}), S.CLOSED),
    "reopen": Move(frozenset({S.COMPLETED}), S.OPEN),  # a supervisor finds the work not done
    "mark_duplicate": Move(frozenset({S.RECEIVED, S.OPEN, S.ASSIGNED, S.ON_HOLD}), S.DUPLICATE),
    "unmerge": Move(frozenset({S.DUPLICATE}), S.OPEN),
    "cancel": Move(frozenset({S.RECEIVED, S.OPEN, S.ASSIGNED, S.ON_HOLD}), S.CANCELLED),
}
NEEDS_REASON = {"could_not_complete", "cancel", "hold", "reopen"}
CLOSING = {S.COMPLETED, S.CLOSED, S.CANCELLED, S.DUPLICATE}  # a request in these has closed_at set
# The work was done: a resident may report it not fixed, and dedup still offers it for a while.
DONE = (S.COMPLETED, S.CLOSED)
# What a crew may be sent to: open work not on hold (a hold waits for something other than a crew).
DISPATCHABLE = tuple(s for s in OPEN_STATUSES if s != S.ON_HOLD)
# What may still become someone's duplicate.
LINKABLE = tuple(sorted(MOVES["mark_duplicate"].sources))


def allowed_verbs(status: str) -> list[str]:
    return sorted(v for v, m in MOVES.items() if status in m.sources)


@transaction.atomic
def apply(
    request: ServiceRequest,
    verb: str,
    *,
    by: Any = None,
    actor_label: str = "",
    note: str = "",
    photos: int = 0,
    parent: ServiceRequest | None = None,
    expected_version: int | None = None,
    details: dict[str, Any] | None = None,
    proof_photo: str = "",
) -> ServiceRequest:
    """Move `request` by `verb`; returns the fresh row. Raises TransitionError / StaleVersion.

    `details` are extra facts for the audit event (crew, time on site, materials); `proof_photo` is a stored
    photo's path that the completion message carries.
    """
    if verb not in MOVES:
        raise TransitionError(f"unknown action {verb!r}; actions are {', '.join(sorted(MOVES))}")
    current = ServiceRequest.objects.select_for_update().select_related("service_type").get(pk=request.pk)
    _check_version(current, expected_version)
    move = MOVES[verb]
    if current.status not in move.sources:
        allowed = allowed_verbs(current.status)
        raise TransitionError(
            f"cannot {verb} a request that is {current.status}; allowed now: "
            f"{', '.join(allowed) or 'nothing (it is final)'}"
        )
    if verb in NEEDS_REASON and not note.strip():
        raise TransitionError(f"{verb} needs a reason in the note")
    if verb == "complete":
        if not note.strip():
            raise TransitionError("completion needs proof: a note saying what was done")
        if current.service_type.completion_requires_photo and photos < 1:
            raise TransitionError(f"completion of {current.service_type.name} needs a photo as proof")
    if verb == "mark_duplicate":
        if parent is None:
            raise TransitionError("mark_duplicate needs the parent request it duplicates")
        root = parent.parent if parent.parent is not None else parent
        if root.pk == current.pk:
            raise TransitionError("a request cannot be a duplicate of itself")
        current.parent = root
        for sub in current.subscriptions.all():
            Subscription.objects.create(
                request=root, name=sub.name, email=sub.email, phone=sub.phone, via=sub.via, language=sub.language
            )
    if verb == "unmerge":
        current.parent = None
    old_status = current.status
    current.status = move.target
    now = timezone.now()
    current.closed_at = now if move.target in CLOSING else None
    if move.target in CLOSING:
        current.closure_reason = note[:300]
    current.version += 1
    current.save()
    new: dict[str, Any] = {"status": current.status, **(details or {})}
    if verb == "mark_duplicate":
        new["parent"] = current.parent.ticket if current.parent else None
    if verb == "complete" and proof_photo:
        new["proof_photo"] = proof_photo  # the after photo the track page shows as proof
    event = record(current, verb, by=by, actor_label=actor_label, old={"status": old_status}, new=new, note=note)
    on_event(current, verb, event, attachment=proof_photo)
    return current


def file_as_duplicate(
    request: ServiceRequest, parent: ServiceRequest, *, note: str, actor_label: str
) -> dict[str, Any]:
    """Intake's shortcut, before a new report's first save: dedup links it at once, so it is stored already a
    duplicate of `parent`'s root, as `apply(request, "mark_duplicate", parent=parent)` would leave it (one INSERT
    where filing and then applying took an insert, a locked read and a full-row update). Returns the audit
    entry `apply` would record, for audit.record_many; the caller copies the reporter's subscription to the root
    and calls notifications.on_event with the recorded event, as `apply` does."""
    move = MOVES["mark_duplicate"]
    if request.pk is not None:
        raise TransitionError("file_as_duplicate is for a report not stored yet; use apply(…, 'mark_duplicate')")
    if request.status not in move.sources:
        raise TransitionError(f"cannot mark_duplicate a request that is {request.status}")
    root = parent.parent if parent.parent is not None else parent
    old_status = request.status
    request.parent = root
    request.status = move.target
    request.closed_at = timezone.now()
    request.closure_reason = note[:300]
    request.version += 1
    return {
        "verb": "mark_duplicate",
        "actor_label": actor_label,
        "old": {"status": old_status},
        "new": {"status": request.status, "parent": root.ticket},
        "note": note,
    }


@transaction.atomic
def complete_with_duplicates(
    request: ServiceRequest,
    *,
    note: str,
    photos: int = 0,
    by: Any = None,
    actor_label: str = "",
    details: dict[str, Any] | None = None,
    proof_photo: str = "",
    expected_version: int | None = None,
) -> tuple[ServiceRequest, list[ServiceRequest]]:
    """Complete an issue and its duplicates: one issue, many reporters, each told once.

    Duplicates merged by mark_duplicate are already closed and their reporters follow the parent, so they
    get an audit event only; a duplicate still open (e.g. linked by an import) is completed too.
    """
    done = apply(
        request,
        "complete",
        by=by,
        actor_label=actor_label,
        note=note,
        photos=photos,
        details=details,
        proof_photo=proof_photo,
        expected_version=expected_version,
    )
    closed: list[ServiceRequest] = []
    for child in ServiceRequest.objects.filter(parent=done).select_related("service_type"):
        if child.status in MOVES["complete"].sources:
            closed.append(
                apply(
                    child,
                    "complete",
                    by=by,
                    actor_label=actor_label,
                    photos=max(photos, 1),
                    note=f"completed with {done.ticket}: {note}",
                    proof_photo=proof_photo,
                )
            )
        else:
            record(
                child,
                "parent_completed",
                by=by,
                actor_label=actor_label,
                new={"parent": done.ticket},
                note=f"{done.ticket} was completed: {note}",
            )
    return done, closed


@transaction.atomic
def relocate(
    request: ServiceRequest,
    location: Any,
    *,
    address: str | None = None,
    by: Any = None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> ServiceRequest:
    """Move a request to a corrected location: ward, community area and department are decided again."""
    current = ServiceRequest.objects.select_for_update().select_related("service_type", "department").get(pk=request.pk)
    _check_version(current, expected_version)
    if location is None and current.service_type.location_required:
        raise TransitionError(f"{current.service_type.name} needs a location")
    old = {
        "lon": current.location.x if current.location else None,
        "lat": current.location.y if current.location else None,
        "ward": current.ward_number,
        "department": current.department.code,
    }
    current.location = location
    placed = place_requests([current], tickets=False)[0]
    if placed.ward is not None and not placed.ward.inside:
        raise TransitionError(f"location is outside the city ({placed.ward.message})")
    if address is not None:
        current.address = address[:300]
    why = placed.department_reason
    current.version += 1
    current.save()
    record(
        current,
        "relocated",
        by=by,
        actor_label=actor_label,
        old=old,
        new={
            "lon": location.x if location else None,
            "lat": location.y if location else None,
            "ward": current.ward_number,
            "department": current.department.code,
        },
        note=why,
    )
    return current


@transaction.atomic
def change_type(
    request: ServiceRequest,
    service_type: Any,
    *,
    by: Any = None,
    actor_label: str = "",
    expected_version: int | None = None,
) -> ServiceRequest:
    """Re-classify a request: department and due date follow the new type."""
    current = ServiceRequest.objects.select_for_update().select_related("service_type", "department").get(pk=request.pk)
    _check_version(current, expected_version)
    if service_type.location_required and current.location is None:
        raise TransitionError(f"{service_type.name} needs a location; relocate the request first")
    old = {
        "service_code": current.service_type.code,
        "department": current.department.code,
        "due_at": current.due_at.isoformat() if current.due_at else None,
    }
    current.service_type = service_type
    current.department, why = choose_department(service_type, current.ward_number, current.community_area_number)
    current.due_at = due_at(service_type, current.requested_at, ward=current.ward_number)
    current.version += 1
    current.save()
    record(
        current,
        "type_changed",
        by=by,
        actor_label=actor_label,
        old=old,
        new={
            "service_code": service_type.code,
            "department": current.department.code,
            "due_at": current.due_at.isoformat(),
        },
        note=why,
    )
    return current


@transaction.atomic
def assign_department(
    request: ServiceRequest,
    department: Any,
    *,
    by: Any = None,
    actor_label: str = "",
    note: str = "",
    expected_version: int | None = None,
) -> ServiceRequest:
    """Send a request to another department than its type and place decide (a staff override, audited)."""
    current = ServiceRequest.objects.select_for_update().select_related("department").get(pk=request.pk)
    _check_version(current, expected_version)
    if current.department_id == department.pk:
        return current
    old = {"department": current.department.code}
    current.department = department
    current.version += 1
    current.save()
    record(
        current,
        "department_changed",
        by=by,
        actor_label=actor_label,
        old=old,
        new={"department": department.code},
        note=note or "sent to another department by staff",
    )
    return current


def _check_version(current: ServiceRequest, expected_version: int | None) -> None:
    if expected_version is not None and current.version != expected_version:
        raise StaleVersion(
            f"request {current.ticket} was changed by someone else since you read it "
            f"(now version {current.version}, you had {expected_version}); reload and try again"
        )
