"""A stop's life: the fold that turns crew reports into the stop's status, and what that status means for the
request behind it.

Why a fold: tablets work offline and send their queue when signal returns, so events arrive late, twice and
out of order, from more than one device. A stop's status is recomputed from all its events in device-time
order, ties broken by server receipt: each crew report sets the status to its kind, except that a completed
stop stays completed (later reports are conflicts) until a supervisor reopens it. The result is the same
whatever order the events arrive in.

The request follows the stop through gis_app.transitions: `request_verb` reads which move the stop's status
asks for from the transitions module's own table (`MOVES`), so the lifecycle's rules are written once.
field_api parses and authenticates the events and stores them; it calls `fold` and `follow` here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from gis_app.choices import Status
from gis_app.models import ServiceRequest
from gis_app.transitions import MOVES, apply, complete_with_duplicates
from routing.models import EventKind, Outcome, StopStatus

When = TypeVar("When", dt.datetime, int)
# The request move each stop status asks for.
VERB_FOR_STOP: dict[str, str] = {
    StopStatus.COMPLETED: "complete",
    StopStatus.STARTED: "start",
    StopStatus.COULD_NOT_COMPLETE: "could_not_complete",
    StopStatus.EN_ROUTE: "assign",
    StopStatus.ARRIVED: "assign",
    StopStatus.PLANNED: "assign",
}
# Where a crew's report is narrower than the lifecycle allows: a request on hold (waiting for parts, say)
# stays on hold when a crew drives by; staff resume it.
NARROWER: dict[str, frozenset[str]] = {"assign": frozenset({Status.OPEN})}


def fold(events: Sequence[tuple[str, When, int]]) -> tuple[str, dict[int, str], When | None]:
    """(kind, device_time, seq) events → (status, outcome per seq, time of the status). The time is a datetime or
    any exact, ordered stand-in for one (field_api reads whole microseconds since the epoch).

    The one definition of a stop's status; the sync torture test checks it against its own reference.
    """
    status, at = StopStatus.PLANNED.value, None
    outcomes: dict[int, str] = {}
    for kind, when, seq in sorted(events, key=lambda e: (e[1], e[2])):
        if status == StopStatus.COMPLETED and kind != EventKind.REOPENED:
            outcomes[seq] = Outcome.CONFLICT
            continue
        if kind == EventKind.REOPENED and status != StopStatus.COMPLETED:
            outcomes[seq] = Outcome.IGNORED
            continue
        status = StopStatus.PLANNED.value if kind == EventKind.REOPENED else StopStatus(kind).value
        at = when
        outcomes[seq] = Outcome.APPLIED
    return status, outcomes, at


def request_verb(stop_status: str, request_status: str) -> str | None:
    """The transition that brings a request in `request_status` in line with its stop, or None.

    A completed request whose stop is no longer completed (a supervisor reopened it) is reopened first; the
    caller asks again for the move after that.
    """
    if request_status == Status.COMPLETED:
        return "reopen" if stop_status != StopStatus.COMPLETED else None
    verb = VERB_FOR_STOP.get(stop_status)
    if verb is None:
        return None
    sources = MOVES[verb].sources & NARROWER.get(verb, MOVES[verb].sources)
    return verb if request_status in sources else None


@dataclass
class Completion:
    """What a completion carries to the request and its reporters: the proof and the facts of the visit."""

    note: str
    photos: list[str] = field(default_factory=list)
    proof_photo: str = ""
    details: dict[str, Any] = field(default_factory=dict)


class StopFacts(Protocol):
    """What the field records say about the stop (field_api reads them from its stored events)."""

    def reopen_note(self) -> str: ...

    def start_note(self) -> str: ...

    def could_not_complete_note(self) -> str: ...

    def completion(self) -> Completion: ...

    def assign_note(self) -> str: ...


def follow(request_id: int, stop_status: str, facts: StopFacts, *, by: Any = None, actor_label: str = "") -> str:
    """Move the request to match its stop's folded status (at most a reopen and one move); returns the request's
    status. A move the lifecycle refuses raises TransitionError, which the caller records on the event."""
    req = ServiceRequest.objects.select_related("service_type").get(pk=request_id)
    for _ in range(2):
        verb = request_verb(stop_status, req.status)
        if verb is None:
            break
        if verb == "complete":
            done = facts.completion()
            req, _children = complete_with_duplicates(
                req,
                note=done.note,
                photos=len(done.photos),
                by=by,
                actor_label=actor_label,
                details=done.details,
                proof_photo=done.proof_photo,
            )
            continue
        note = {
            "reopen": facts.reopen_note,
            "start": facts.start_note,
            "could_not_complete": facts.could_not_complete_note,
            "assign": facts.assign_note,
        }[verb]()
        req = apply(req, verb, by=by, actor_label=actor_label, note=note)
    return req.status
