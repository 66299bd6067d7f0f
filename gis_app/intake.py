"""Intake: one function that turns a validated contact into a stored request with everything it needs.

Ward and community area from the maps in force, department by type + place, a due date from the SLA,
a universal ticket number, the reporter subscribed on the channel they chose, and the audit trail,
in one transaction. Anything wrong raises IntakeError naming the field and what was expected, and
nothing is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone

from gis_app.audit import record, record_many
from gis_app.choices import Channel, Datatype, LocatedBy, NotifyVia, Status
from gis_app.dedup import Decision, decide, link_note, recurrence_entry
from gis_app.models import DESCRIPTION_MAX, ServiceRequest, ServiceType, Subscription
from gis_app.notifications import acknowledge, on_event
from gis_app.placement import place_requests
from gis_app.transitions import DONE, TransitionError, file_as_duplicate
from layers.coords import CoordinateError, point_from_lonlat
from layers.geocoding import GeocoderNotReady, geocode, reverse_many
from layers.lookup import LayerNotLoaded


class IntakeError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class IntakeData:
    service_code: str
    location: Point | None = None
    address: str = ""
    located_by: str = LocatedBy.PIN
    description: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    channel: str = Channel.PHONE
    reporter_name: str = ""
    reporter_email: str = ""
    reporter_phone: str = ""
    anonymous: bool = False
    notify_via: str = NotifyVia.NONE
    requested_at: dt.datetime | None = None
    external_id: str = ""
    media_url: str = ""
    location_note: str = ""  # free text when nothing could be placed: filed "location to confirm"
    language: str = ""  # the reporter's language (settings.LANGUAGES); default the city's


def validate_attributes(service_type: ServiceType, given: dict[str, Any]) -> dict[str, Any]:
    """Check answers against the type's Open311 attribute definitions; returns the cleaned answers."""
    if not isinstance(given, dict):
        raise IntakeError("attributes", "must be an object of code: value")
    defs = {a.code: a for a in service_type.attributes.all()}
    unknown = sorted(set(given) - set(defs))
    if unknown:
        raise IntakeError(
            "attributes",
            f"unknown attribute(s) {', '.join(unknown)} for {service_type.code}; "
            f"expected {', '.join(sorted(defs)) or 'none'}",
        )
    clean: dict[str, Any] = {}
    for code, a in sorted(defs.items(), key=lambda kv: kv[1].order):
        value = given.get(code)
        if value in (None, "", []):
            if a.required:
                raise IntakeError(f"attributes.{code}", f"is required: {a.description}")
            continue
        keys = {str(v["key"]) for v in a.values}
        if a.datatype == Datatype.NUMBER:
            try:
                value = float(str(value))
            except ValueError:
                raise IntakeError(f"attributes.{code}", f"must be a number; got {value!r}") from None
        elif a.datatype == Datatype.DATETIME:
            try:
                value = dt.datetime.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise IntakeError(f"attributes.{code}", f"must be an ISO 8601 date-time; got {value!r}") from None
        elif a.datatype == Datatype.SINGLEVALUELIST:
            if str(value) not in keys:
                raise IntakeError(f"attributes.{code}", f"must be one of {', '.join(sorted(keys))}; got {value!r}")
            value = str(value)
        elif a.datatype == Datatype.MULTIVALUELIST:
            values = value if isinstance(value, list) else [value]
            bad = [v for v in values if str(v) not in keys]
            if bad:
                raise IntakeError(f"attributes.{code}", f"values must be among {', '.join(sorted(keys))}; got {bad}")
            value = [str(v) for v in values]
        else:
            value = str(value)
            if len(value) > DESCRIPTION_MAX:
                raise IntakeError(f"attributes.{code}", f"is at most {DESCRIPTION_MAX} characters")
        clean[code] = value
    return clean


@dataclass
class Located:
    location: Point | None
    address: str
    located_by: str


def locate(lon: Any = None, lat: Any = None, address: str = "", located_by: str = LocatedBy.PIN) -> Located:
    """Where a contact is, the one way every channel does it: a pin (lon and lat) keeps its place and gets its
    nearest address, so crews and residents can read it; an address or cross streets are placed on the city's
    layers. Raises IntakeError ("location" or "address") with what was expected; with neither, no place."""
    if lon not in (None, "") or lat not in (None, ""):
        try:
            point = point_from_lonlat(lon, lat)
        except CoordinateError as exc:
            raise IntakeError("location", str(exc)) from None
        if not address:
            with contextlib.suppress(GeocoderNotReady):
                # The nearest address only: placement finds the ward and area in its own set-based step.
                address = reverse_many([(point.x, point.y)], with_areas=False)[0].get("address", "")
        return Located(point, address, located_by)
    if not address:
        return Located(None, "", LocatedBy.NONE)
    try:
        found = geocode(address, with_wards=False)  # placement finds the ward, and refuses a place outside
    except GeocoderNotReady:  # no street layer here: intake says a location is needed if the type needs one
        return Located(None, address, LocatedBy.FREE_TEXT)
    if found.status == "ambiguous":
        options = "; ".join(c["address"] for c in found.candidates)
        raise IntakeError("address", f"is ambiguous: did you mean {options}? Add the direction or the ZIP code")
    if found.status != "matched" or found.lon is None or found.lat is None:
        raise IntakeError("address", f"could not be placed ({found.message or 'no match'}); drop a pin instead")
    return Located(
        point_from_lonlat(found.lon, found.lat),
        found.address,
        LocatedBy.INTERSECTION if found.kind == "intersection" else LocatedBy.ADDRESS,
    )


def _checked(stype: ServiceType, data: IntakeData) -> bool:
    """Refuse what cannot be filed, saying what was expected; returns whether the report is anonymous."""
    if len(data.description) > DESCRIPTION_MAX:
        raise IntakeError("description", f"is at most {DESCRIPTION_MAX} characters; got {len(data.description)}")
    if stype.location_required and data.location is None and not data.location_note.strip():
        raise IntakeError(
            "location",
            f"{stype.name} needs a location: a pin, an address, cross streets, or where the caller says it is "
            "(location_note, filed as 'location to confirm')",
        )
    # A type that keeps no reporter identity makes every report anonymous, whatever the caller gave.
    anonymous = data.anonymous or stype.force_anonymous
    if anonymous and not stype.anonymous_allowed and not stype.force_anonymous:
        raise IntakeError("anonymous", f"{stype.name} cannot be reported anonymously")
    if data.language and data.language not in dict(settings.LANGUAGES):
        raise IntakeError("language", f"one of {', '.join(dict(settings.LANGUAGES))}; got {data.language[:10]!r}")
    if not anonymous and data.notify_via == NotifyVia.EMAIL and not data.reporter_email:
        raise IntakeError("reporter_email", "is needed to send updates by email")
    if not anonymous and data.notify_via == NotifyVia.SMS and not data.reporter_phone:
        raise IntakeError("reporter_phone", "is needed to send updates by text message")
    return anonymous


def _outside_city(lookup_message: str) -> str:
    return f"is outside the city ({lookup_message}); expected a point inside a {settings.CITY_DISTRICT_WORD}"


TICKET_TRIES = 5  # a collision in 8.5e11 numbers is rare; the filing is tried again with a new ticket


def create_request(
    data: IntakeData, *, by: Any = None, actor_label: str = "", link_duplicates: bool | None = None
) -> ServiceRequest:
    """File a request, in one transaction. With `link_duplicates` (default: settings.DEDUP_AUTO_LINK) a report
    that clears its type's dedup threshold becomes a child of the issue it repeats, and its reporter hears when
    that one is fixed.

    A ticket number already taken fails the whole filing, which is then tried again with a fresh number. Why not
    a savepoint around the INSERT: it cost every filing two round trips for a collision that almost never
    happens."""
    for attempt in range(TICKET_TRIES):
        try:
            with transaction.atomic():
                return _file(data, by=by, actor_label=actor_label, link_duplicates=link_duplicates)
        except IntegrityError as exc:
            constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or ""
            if "ticket" not in constraint or attempt == TICKET_TRIES - 1:
                raise
    raise AssertionError("unreachable: the last try returns or raises")


def _file(data: IntakeData, *, by: Any, actor_label: str, link_duplicates: bool | None) -> ServiceRequest:
    stype = ServiceType.objects.active_by_code(data.service_code)
    if stype is None:
        raise IntakeError(
            "service_code", f"unknown service type {data.service_code!r}; see GET /api/services/"
        ) from None
    anonymous = _checked(stype, data)
    attributes = validate_attributes(stype, data.attributes)
    requested_at = data.requested_at or timezone.now()
    req = ServiceRequest(
        service_type=stype,
        status=Status.OPEN,
        location=data.location,
        address=data.address[:300],
        location_note=data.location_note.strip()[:300] if data.location is None else "",
        language=data.language or settings.LANGUAGE_CODE,
        located_by=data.located_by if data.location is not None else LocatedBy.NONE,
        description=data.description,
        attributes=attributes,
        channel=data.channel,
        reporter_name="" if anonymous else data.reporter_name,
        reporter_email="" if anonymous else data.reporter_email,
        reporter_phone="" if anonymous else data.reporter_phone,
        anonymous=anonymous,
        notify_via=NotifyVia.NONE if anonymous else data.notify_via,
        requested_at=requested_at,
        external_id=data.external_id,
        media_url=data.media_url[:1000],
    )
    try:
        placed = place_requests([req])[0]
    except LayerNotLoaded as exc:
        raise IntakeError("location", str(exc)) from None
    if placed.ward is not None and not placed.ward.inside:
        raise IntakeError("location", _outside_city(placed.ward.message))
    why = placed.department_reason
    assert req.due_at is not None  # placement dates every request
    entries = _filing_events(req, actor_label or data.channel, why)
    linking = settings.DEDUP_AUTO_LINK if link_duplicates is None else link_duplicates
    decision = decide(req) if linking and req.location is not None else Decision()
    link = decision.link
    if link is not None:  # stored a duplicate straight away (transitions.file_as_duplicate)
        entries.append(
            file_as_duplicate(req, link[1], note=link_note(link[0]), actor_label="dedup" if by is None else "")
        )
    elif decision.recurrence is not None:
        entries.append(recurrence_entry(decision.recurrence))
    req.save()
    events = record_many(req, entries, by=by)
    if req.notify_via != NotifyVia.NONE:
        # The reporter follows their own request and, for a duplicate, the issue it repeats (as apply does).
        followed = [req, req.parent] if req.parent is not None else [req]
        subs = [
            Subscription(
                request=on,
                name=req.reporter_name,
                email=req.reporter_email,
                phone=req.reporter_phone,
                via=req.notify_via,
                language=req.language,
            )
            for on in followed
        ]
        Subscription.objects.bulk_create(subs)
        acknowledge(req, events[0], subscriptions=subs[:1])
    if link is not None:
        on_event(req, "mark_duplicate", events[-1])
    return req


def _filing_events(req: ServiceRequest, actor_label: str, why: str) -> list[dict[str, Any]]:
    """The audit trail's first three lines: received, routed (and why), the due date (and the SLA's words)."""
    assert req.due_at is not None
    return [
        {
            "verb": "received",
            "actor_label": actor_label,
            "new": {"status": req.status, "channel": req.channel, "ward": req.ward_number},
        },
        {"verb": "routed", "actor_label": "system", "new": {"department": req.department.code}, "note": why},
        {
            "verb": "due_date_set",
            "actor_label": "system",
            "new": {"due_at": req.due_at.isoformat()},
            "note": req.service_type.sla_text,
        },
    ]


def new_request_like(original: ServiceRequest, *, note: str, by: Any = None, actor_label: str = "") -> ServiceRequest:
    """A follow-up of `original`: same type, place and reporter; linked; its own ticket and due date."""
    data = IntakeData(
        service_code=original.service_type.code,
        location=original.location,
        address=original.address,
        located_by=original.located_by,
        description=f"Follow-up of {original.ticket}: {note}"[:DESCRIPTION_MAX],
        attributes=original.attributes,
        channel=original.channel,
        reporter_name=original.reporter_name,
        reporter_email=original.reporter_email,
        reporter_phone=original.reporter_phone,
        anonymous=original.anonymous,
        notify_via=original.notify_via,
    )
    follow = create_request(data, by=by, actor_label=actor_label)
    follow.follow_up_of = original
    follow.save(update_fields=["follow_up_of"])
    return follow


@transaction.atomic
def reopen_as_follow_up(
    request: ServiceRequest, *, by: Any = None, actor_label: str = "resident survey", note: str = ""
) -> ServiceRequest:
    """A "not fixed" report on a completed or closed request: a new linked request, due as the type promises.

    Intake's job, not a status move: the original keeps its status and gets an audit event pointing at the
    follow-up, which is filed like any new report."""
    if request.status not in DONE:
        raise TransitionError(
            f"only a completed or closed request can be reported as not fixed; {request.ticket} is {request.status}"
        )
    follow = new_request_like(request, note=note or "reported as not fixed", by=by, actor_label=actor_label)
    record(request, "reported_not_fixed", by=by, actor_label=actor_label, new={"follow_up": follow.ticket}, note=note)
    return follow
