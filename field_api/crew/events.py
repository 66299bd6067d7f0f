"""Stop events from crew devices: validate, record once, then let routing.stops fold them and move the request.

Each event is stored once (its client-generated UUID is the key; a replay returns the first answer), then the
stop's status is recomputed from all its events by routing.stops.fold, and the request follows it through
routing.stops.follow (gis_app.transitions underneath: audit events, notifications, duplicates). This module
parses, stores and reads back what the state machine needs; the state machine itself lives in routing.

Events are folded per request and service day, not per stop row, so a device still holding an older
version of its route (a re-plan made new stop rows) reports against the same history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from field_api.crew.photos import store_photos
from field_api.models import DeviceToken, StopEvent, StopPhoto
from gis_app.compiled_query import NO_ID, CompiledOnce
from gis_app.models import ServiceRequest
from gis_app.transitions import TransitionError
from routing.models import EventKind, Outcome, PlanStatus, ReasonCode, Stop
from routing.stops import Completion, fold, follow, request_verb

NOTE_MAX = 2000
MATERIALS_MAX = 50
FUTURE_SKEW = dt.timedelta(minutes=5)
MAX_AGE = dt.timedelta(days=7)
CREW_KINDS = [k for k in EventKind.values if k != EventKind.REOPENED]


class EventError(ValueError):
    """An event the server cannot take; `status` is the HTTP status, the message says what was expected."""

    def __init__(self, message: str, status: int = 400, field_name: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.field_name = field_name


@dataclass
class EventInput:
    id: str
    kind: str
    device_time: dt.datetime
    note: str = ""
    reason_code: str = ""
    materials: list[dict[str, Any]] = field(default_factory=list)
    photo_stage: str = "after"

    def fingerprint(self) -> str:
        body = json.dumps(
            [self.kind, self.device_time.isoformat(), self.note, self.reason_code, self.materials],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(body.encode()).hexdigest()


def parse_event(data: dict[str, Any]) -> EventInput:
    """Validate a posted event (JSON or form fields) into an EventInput; EventError names what is wrong."""
    try:
        event_id = str(uuid.UUID(str(data.get("id", ""))))
    except ValueError:
        raise EventError(
            f"id must be a client-generated UUID, e.g. 3f0e6c1e-…; got {str(data.get('id', ''))[:60]!r}",
            field_name="id",
        ) from None
    kind = str(data.get("kind", ""))
    if kind not in CREW_KINDS:
        raise EventError(f"kind must be one of {', '.join(CREW_KINDS)}; got {kind[:40]!r}", field_name="kind")
    device_time = _device_time(str(data.get("device_time", "")))
    note = str(data.get("note", ""))
    if "\x00" in note:
        raise EventError("note must not contain NUL characters", field_name="note")
    if len(note) > NOTE_MAX:
        raise EventError(f"note is at most {NOTE_MAX} characters; got {len(note)}", field_name="note")
    reason = _reason(kind, str(data.get("reason_code", "") or ""), note)
    if kind == EventKind.COMPLETED and not note.strip():
        raise EventError(
            "completed needs a note saying what was done (it is the proof the resident sees)", field_name="note"
        )
    stage = str(data.get("photo_stage", "after") or "after")
    if stage not in StopPhoto.Stage.values:
        raise EventError(f"photo_stage must be before or after; got {stage[:20]!r}", field_name="photo_stage")
    return EventInput(
        id=event_id,
        kind=kind,
        device_time=device_time,
        note=note,
        reason_code=reason,
        materials=_materials(data.get("materials") or []),
        photo_stage=stage,
    )


def _device_time(raw: str) -> dt.datetime:
    """The device's clock reading: ISO 8601 with its offset, not in the future, not older than MAX_AGE."""
    try:
        device_time: dt.datetime | None = dt.datetime.fromisoformat(raw)
    except ValueError:
        device_time = None
    if device_time is None or device_time.tzinfo is None:
        raise EventError(
            "device_time must be an ISO 8601 time with its UTC offset, e.g. 2026-11-24T09:30:00-06:00; "
            f"got {raw[:60]!r}",
            field_name="device_time",
        )
    now = timezone.now()
    if device_time > now + FUTURE_SKEW:
        raise EventError(
            f"device_time {raw} is in the future (server time {now.isoformat(timespec='seconds')}); "
            "check the device clock",
            field_name="device_time",
        )
    if device_time < now - MAX_AGE:
        raise EventError(f"device_time {raw} is more than {MAX_AGE.days} days old", field_name="device_time")
    return device_time


def _reason(kind: str, reason: str, note: str) -> str:
    """A reason code is required for could_not_complete ('other' with a note), and refused on anything else."""
    if kind == EventKind.COULD_NOT_COMPLETE:
        if reason not in ReasonCode.values:
            raise EventError(
                f"could_not_complete needs reason_code, one of {', '.join(ReasonCode.values)}; got {reason[:40]!r}",
                field_name="reason_code",
            )
        if reason == ReasonCode.OTHER and not note.strip():
            raise EventError("reason_code 'other' needs a note saying why", field_name="note")
    elif reason:
        raise EventError("reason_code is only for could_not_complete", field_name="reason_code")
    return reason


def _materials(materials: Any) -> list[dict[str, Any]]:
    """Materials used: a list (or its JSON text, from a form) of {item, quantity ≥ 0, unit}, trimmed."""
    if isinstance(materials, str):
        try:
            materials = json.loads(materials)
        except json.JSONDecodeError:
            raise EventError(
                "materials must be a JSON list of {item, quantity, unit}", field_name="materials"
            ) from None
    if (
        not isinstance(materials, list)
        or len(materials) > MATERIALS_MAX
        or not all(
            isinstance(m, dict)
            and isinstance(m.get("item"), str)
            and isinstance(m.get("quantity"), int | float)
            and not isinstance(m.get("quantity"), bool)
            and m["quantity"] >= 0
            for m in materials
        )
    ):
        raise EventError(
            f"materials must be a list (at most {MATERIALS_MAX}) of {{item: text, quantity: number ≥ 0, unit: text}}",
            field_name="materials",
        )
    return [
        {"item": m["item"][:120], "quantity": m["quantity"], "unit": str(m.get("unit", ""))[:20]} for m in materials
    ]


@dataclass
class IngestResult:
    body: dict[str, Any]
    created: bool

    @property
    def status_code(self) -> int:
        return 201 if self.created else 200


@dataclass
class StopRef:
    """What ingesting needs of a stop, read in one narrow query (events come by the thousand)."""

    id: int
    request_id: int
    crew_id: int
    crew_name: str
    day: dt.date
    plan_status: str
    status: str
    status_at: dt.datetime | None
    flags: list[str]


VISIBLE_PLANS = (PlanStatus.PUBLISHED, PlanStatus.SUPERSEDED)  # the plans a crew's devices see
STOP_FIELDS = (
    "id",
    "request_id",
    "route__crew_id",
    "route__crew__name",
    "route__plan__service_date",
    "route__plan__status",
    "status",
    "status_at",
    "flags",
)


def stop_ref(queryset: Any) -> StopRef | None:
    row = queryset.values_list(*STOP_FIELDS).first()
    return StopRef(*row) if row else None


def crews_stops(crew_id: int) -> QuerySet[Stop]:
    """A crew's stops on the plans its devices may see (VISIBLE_PLANS)."""
    return Stop.objects.filter(route__crew=crew_id, route__plan__status__in=VISIBLE_PLANS)


# A crew's own stop, for each event it posts: the four-table join compiled once (compiling it on every event was
# a fifth of an event's time).
_CREW_STOP = CompiledOnce(
    lambda stop_id, crew_id: crews_stops(crew_id).filter(pk=stop_id).values(*STOP_FIELDS)[:1], NO_ID, NO_ID - 1
)


def crew_stop(stop_id: int, crew_id: int) -> StopRef | None:
    """The stop if it is on one of this crew's visible routes (else None: not theirs)."""
    rows = _CREW_STOP.rows(stop_id, crew_id)
    return StopRef(*(rows[0][f] for f in STOP_FIELDS)) if rows else None


def current_stop_for(request_id: int, day: dt.date) -> StopRef | None:
    """The request's stop in the day's published plan (the one re-plans and the dispatcher look at)."""
    return stop_ref(
        Stop.objects.filter(
            request_id=request_id, route__plan__service_date=day, route__plan__status=PlanStatus.PUBLISHED
        )
    )


# The two reads at the head of every event, compiled once (gis_app.compiled_query): the request row locked for
# the fold (only its row: of=self), and an earlier event with this id (a replay).
_LOCKED = CompiledOnce(
    lambda request_id: (
        ServiceRequest.objects.select_for_update(of=("self",))
        .filter(pk=request_id)
        .values("status", "service_type__completion_requires_photo", "service_type__name")
    ),
    NO_ID,
)
_SEEN = CompiledOnce(
    lambda event_id: StopEvent.objects.filter(pk=event_id).values("fingerprint", "stop_id", "result")[:1],
    uuid.UUID(int=7_777_777),
)


def ingest(
    stop: StopRef,
    event: EventInput,
    *,
    device: DeviceToken | None = None,
    supervisor: Any = None,
    photos: Sequence[Any] = (),
) -> IngestResult:
    """Record one event (once) and bring the stop and its request up to date. Replays return the first answer."""
    with transaction.atomic():
        # Serialise events of one request (only its row: of=self): the fold and its transitions see each other.
        found = _LOCKED.rows(stop.request_id)
        if not found:
            raise ServiceRequest.DoesNotExist(f"no request {stop.request_id}")
        locked = found[0]
        seen = _SEEN.rows(uuid.UUID(event.id))  # as the ORM would pass it (compiled once: no field conversion)
        if seen:
            fingerprint, stop_id, result = seen[0]["fingerprint"], seen[0]["stop_id"], seen[0]["result"]
            if fingerprint != event.fingerprint() or stop_id != stop.id:
                raise EventError(
                    f"event id {event.id} was already used for a different event; generate a new UUID per event",
                    status=409,
                    field_name="id",
                )
            return IngestResult(body={**result, "replayed": True}, created=False)
        request_status = locked["status"]
        needs_photo = locked["service_type__completion_requires_photo"]
        type_name = locked["service_type__name"]
        if device is not None:
            _check_day(stop, event)
        if (
            event.kind == EventKind.COMPLETED
            and needs_photo
            and not photos
            and not StopPhoto.objects.filter(
                event__request_id=stop.request_id, event__service_date=stop.day, stage=StopPhoto.Stage.AFTER
            ).exists()
        ):
            raise EventError(
                f"{type_name} needs a photo as proof of completion: attach one (photo_stage=after)", field_name="photos"
            )
        row = StopEvent.objects.create(
            id=event.id,
            stop_id=stop.id,
            request_id=stop.request_id,
            service_date=stop.day,
            crew_id=stop.crew_id if device is not None else None,
            device=device,
            supervisor=supervisor,
            kind=event.kind,
            device_time=event.device_time,
            note=event.note,
            reason_code=event.reason_code,
            materials=event.materials,
            fingerprint=event.fingerprint(),
        )
        stored = store_photos(row, photos, event.photo_stage)
        body = _refold(stop, row, request_status)
        body["photos"] = [p.image.name for p in stored]
        StopEvent.objects.filter(pk=row.pk).update(result=body)
        return IngestResult(body=body, created=True)


def _check_day(stop: StopRef, event: EventInput) -> None:
    """A crew's event belongs to the day of the stop it is posted to (a night shift may run past midnight by
    settings.FIELD_DAY_GRACE_HOURS): an event timed on another day is work on another day's route."""
    local = timezone.localtime(event.device_time)
    start = timezone.make_aware(dt.datetime.combine(stop.day, dt.time.min))
    end = start + dt.timedelta(days=1, hours=settings.FIELD_DAY_GRACE_HOURS)
    if not start <= local < end:
        raise EventError(
            f"this stop is on the route for {stop.day}; an event timed {local:%Y-%m-%d %H:%M} is not that "
            "day's work (check the device clock, or pull today's route)",
            status=409,
            field_name="device_time",
        )


# A request's events of one day, for the fold. Why raw: every event re-reads all of its stop's events (out of
# order, any of them may change the outcome), and building a datetime and a UUID per row through the ORM was
# most of the batch endpoint's time on a busy stop; device times come as whole microseconds (exact, ordered) and
# ids as text, and only the time the fold settles on becomes a datetime.
_FOLD_SQL = (
    "SELECT kind, (EXTRACT(EPOCH FROM device_time) * 1000000)::bigint, seq, outcome, id::text "
    f"FROM {StopEvent._meta.db_table} WHERE request_id = %s AND service_date = %s"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _refold(posted: StopRef, row: StopEvent, request_status: str) -> dict[str, Any]:
    with connection.cursor() as cur:
        cur.execute(_FOLD_SQL, [posted.request_id, posted.day])
        events: list[tuple[str, int, int, str, str]] = cur.fetchall()
    status, outcomes, micros = fold([(k, t, s) for k, t, s, _, _ in events])
    at = None if micros is None else _EPOCH + dt.timedelta(microseconds=micros)
    changed = [(eid, outcomes[s]) for _, _, s, old, eid in events if outcomes[s] != old]
    for value in {o for _, o in changed}:
        StopEvent.objects.filter(pk__in=[eid for eid, o in changed if o == value]).update(outcome=value)
    current = (
        posted
        if posted.plan_status == PlanStatus.PUBLISHED
        else (current_stop_for(posted.request_id, posted.day) or posted)
    )
    previous = current.status
    for ref in {current.id: current, posted.id: posted}.values():
        if ref.status != status or ref.status_at != at:
            Stop.objects.filter(pk=ref.id).update(status=status, status_at=at)
            ref.status, ref.status_at = status, at
    detail = ""
    if current.id != posted.id and current.crew_id != posted.crew_id:
        detail = f"this stop is now on {current.crew_name}'s route; your report was recorded and the dispatcher is told"
        flag = (
            f"{posted.crew_name} reported {row.kind} at "
            f"{timezone.localtime(row.device_time):%H:%M} after the stop moved to {current.crew_name}"
        )
        Stop.objects.filter(pk=current.id).update(flags=[*current.flags, flag])
    if (status != previous or row.kind == EventKind.COMPLETED) and request_verb(status, request_status):
        request_status = _follow(posted.request_id, status, row, current)
    outcome = outcomes[row.seq]
    if outcome == Outcome.CONFLICT:
        detail = detail or (
            "the stop was already completed (by device time); this event was recorded, not applied. "
            "Ask a supervisor to reopen the stop if the work is not done"
        )
    superseded = [eid for eid, o in changed if o == Outcome.CONFLICT and eid != str(row.pk)]
    return {
        "event": str(row.pk),
        "kind": row.kind,
        "outcome": outcome,
        "detail": detail,
        "stop": current.id,
        "stop_status": status,
        "request_status": request_status,
        "superseded": superseded,
        "received_at": row.received_at.isoformat(),
    }


class _RecordedFacts:
    """What the stored events of one request and day say, read only when the move needs it (routing.stops)."""

    def __init__(self, request_id: int, stop: StopRef, row: StopEvent) -> None:
        self.request_id, self.stop, self.row = request_id, stop, row

    def _events(self, **filters: Any) -> Any:
        return StopEvent.objects.filter(request_id=self.request_id, service_date=self.stop.day, **filters)

    def reopen_note(self) -> str:
        last = self._events(kind=EventKind.REOPENED).last()
        return last.note if last else "reopened by a supervisor"

    def start_note(self) -> str:
        return f"started at {timezone.localtime(self.row.device_time):%H:%M}"

    def assign_note(self) -> str:
        return f"{self.stop.crew_name} is working it again"

    def could_not_complete_note(self) -> str:
        last = (
            self._events(kind=EventKind.COULD_NOT_COMPLETE, outcome=Outcome.APPLIED)
            .order_by("device_time", "seq")
            .last()
        )
        reason = ReasonCode(last.reason_code).label if last and last.reason_code else "could not complete"
        return f"{reason}{': ' + last.note if last and last.note else ''} — back in the dispatch pool"

    def completion(self) -> Completion:
        events = list(self._events(outcome=Outcome.APPLIED).order_by("device_time", "seq"))
        done = next(e for e in reversed(events) if e.kind == EventKind.COMPLETED)
        on_site_from = next((e.device_time for e in events if e.kind in (EventKind.ARRIVED, EventKind.STARTED)), None)
        minutes = round((done.device_time - on_site_from).total_seconds() / 60, 1) if on_site_from else None
        photos = list(
            StopPhoto.objects.filter(event__request_id=self.request_id, event__service_date=self.stop.day).order_by(
                "event__device_time", "index"
            )
        )
        after = [p for p in photos if p.stage == StopPhoto.Stage.AFTER]
        names = [p.image.name for p in photos]
        return Completion(
            note=done.note,
            photos=names,
            proof_photo=after[-1].image.name if after else "",
            details={
                "crew": self.stop.crew_name,
                "time_on_site_minutes": minutes,
                "materials": [m for e in events for m in e.materials],
                "photos": names,
                "device_time": done.device_time.isoformat(),
            },
        )


def _follow(request_id: int, status: str, row: StopEvent, stop: StopRef) -> str:
    """The request follows its stop (routing.stops); a move the lifecycle refuses is recorded on the event, so
    the field report is never lost. Returns the request's status."""
    label = f"crew {stop.crew_name}" if row.device_id else f"supervisor {row.supervisor}"
    try:
        return follow(request_id, status, _RecordedFacts(request_id, stop, row), by=row.supervisor, actor_label=label)
    except TransitionError as exc:
        StopEvent.objects.filter(pk=row.pk).update(outcome_detail=str(exc)[:300])
        return str(ServiceRequest.objects.values_list("status", flat=True).get(pk=request_id))
