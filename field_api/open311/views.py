"""The GeoReport v2 endpoints: discovery, services, service definitions, requests (read, search, post), each
wrapped by `open311` (format, jurisdiction, throttle, errors).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db.models import Exists, F, FloatField, Func, Max, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from field_api.open311.extensions import address_point, extend, flag, located, paging
from field_api.open311.keys import _client, _throttle
from field_api.open311.render import CHANGESET, FORMATS, SPECIFICATION, Open311Error, render
from gis_app.choices import OPEN_STATUSES, Channel, LocatedBy, NotifyVia
from gis_app.intake import IntakeData, IntakeError, create_request, locate
from gis_app.models import RequestEvent, ServiceAttribute, ServiceRequest, ServiceType, ServiceTypeQuerySet
from gis_app.privacy import mask_personal, public_place
from gis_app.public_views import PUBLIC_VERBS
from gis_app.tickets import TicketError, normalize_ticket
from layers.models import Ward

# status_notes: the latest public step that says something about the status (not routing or the due date).
STATUS_NOTES = {verb: label for verb, label in PUBLIC_VERBS.items() if verb not in ("routed", "due_date_set")}


MAX_IDS = 200  # service_request_id=a,b,c… at most this many


# Where an intake error's field comes from in an Open311 POST (others keep their name; attributes.x is
# attribute[x]).
PARAMETER = {
    "location": "lat/long or address_string",
    "address": "address_string",
    "reporter_email": "email",
    "reporter_phone": "phone",
    "anonymous": "email, phone or first_name/last_name (this service takes no anonymous reports)",
}


def open311(
    root: str, item: str | None = None, methods: tuple[str, ...] = ("GET",)
) -> Callable[[Callable[..., tuple[Any, int]]], Callable[..., HttpResponse]]:
    """A view answering in the format its URL ends with; Open311Error becomes the spec's error list."""

    def wrap(func: Callable[..., tuple[Any, int]]) -> Callable[..., HttpResponse]:
        @csrf_exempt  # clients authenticate with api_key, never with a session cookie
        @functools.wraps(func)
        def view(request: HttpRequest, fmt: str, **kwargs: Any) -> HttpResponse:
            fmt = fmt.lower()
            try:
                if fmt not in FORMATS:
                    raise Open311Error(404, f"format {fmt[:20]!r} is not served; expected .json or .xml")
                if request.method not in methods:
                    raise Open311Error(405, f"{request.method} is not allowed here; expected {' or '.join(methods)}")
                _check_jurisdiction(request)
                _throttle(request)
                data, status = func(request, **kwargs)
            except Open311Error as exc:
                response = render(
                    fmt if fmt in FORMATS else "json",
                    [{"code": exc.code, "description": exc.description}],
                    "errors",
                    "error",
                    exc.code,
                )
                if exc.code == 405:
                    response["Allow"] = ", ".join(methods)
                if exc.retry_after is not None:
                    response["Retry-After"] = str(exc.retry_after)
                return response
            return render(fmt, data, root, item, status)

        return view

    return wrap


def _check_jurisdiction(request: HttpRequest) -> None:
    given = (request.POST.get("jurisdiction_id") if request.method == "POST" else None) or request.GET.get(
        "jurisdiction_id", ""
    )
    ours = settings.OPEN311_JURISDICTION_ID
    if given and ours and given != ours:
        raise Open311Error(404, f"jurisdiction_id {given[:80]!r} is not served here; this endpoint is {ours!r}")


def changeset() -> str:
    """When the service list or any definition last changed (clients refresh their cached lists when it moves);
    never older than the API's own shape."""
    latest = max(
        (
            t
            for t in (
                ServiceType.objects.aggregate(m=Max("updated_at"))["m"],
                ServiceAttribute.objects.aggregate(m=Max("updated_at"))["m"],
            )
            if t is not None
        ),
        default=None,
    )
    stamp = latest.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if latest else CHANGESET
    return max(stamp, CHANGESET)


@open311("discovery")
def discovery(request: HttpRequest) -> tuple[Any, int]:
    base = request.build_absolute_uri("/open311/v2/").rstrip("/")
    return {
        "changeset": changeset(),
        "contact": settings.OPEN311_CONTACT,
        "key_service": "api_key for POST: ask the 311 team (manage.py issue_open311_key)",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": changeset(),
                "type": "production",
                "formats": ["application/json", "text/xml"],
            }
        ],
    }, 200


def _public_types() -> ServiceTypeQuerySet:
    return ServiceType.objects.public().filter(active=True)


@open311("services", "service")
def services(request: HttpRequest) -> tuple[Any, int]:
    rows = (
        _public_types()
        .annotate(has_questions=Exists(ServiceAttribute.objects.filter(service_type=OuterRef("pk"))))
        .order_by("group", "name")
    )
    return [
        {
            "service_code": t.code,
            "service_name": t.name,
            "description": t.description,
            "metadata": bool(t.has_questions),  # type: ignore[attr-defined]  # the annotation above
            "type": "realtime",
            "keywords": ", ".join(str(k) for k in (t.keywords or [])),
            "group": t.group,
        }
        for t in rows
    ], 200


@open311("service_definition")
def service_definition(request: HttpRequest, code: str) -> tuple[Any, int]:
    stype = _public_types().filter(code=code).prefetch_related("attributes").first()
    if stype is None:
        raise Open311Error(404, f"no service with service_code {code[:80]!r}; see services.json")
    return {
        "service_code": stype.code,
        "attributes": [
            {
                "variable": True,
                "code": a.code,
                "datatype": a.datatype,
                "required": a.required,
                "datatype_description": a.get_datatype_display(),
                "order": a.order,
                "description": a.description,
                "values": [{"key": str(v.get("key")), "name": str(v.get("name", v.get("key")))} for v in a.values],
            }
            for a in stype.attributes.all()
        ],
    }, 200


def _public_requests() -> QuerySet[ServiceRequest]:
    """Requests the public may see, with what one row needs in the same query (no query per row)."""
    latest = (
        RequestEvent.objects.filter(request=OuterRef("pk"), public=True, verb__in=list(STATUS_NOTES))
        .order_by("-at", "-id")
        .values("verb")[:1]
    )
    # The district as the city writes it ("District 3B"), from the map the request was placed on.
    ward = Ward.objects.filter(layer_version_id=OuterRef("ward_layer_id"), number=OuterRef("ward_number"))
    code = ward.values("code")[:1]
    return located(
        ServiceRequest.objects.filter(service_type__sensitive=False)
        .select_related("service_type", "department", "parent")
        .only(*SHOWN)
        .annotate(last_public_verb=Subquery(latest), ward_code=Subquery(code))
    )


# The columns an answer shows (a row of ServiceRequest holds contact data and much else no answer reads).
SHOWN = ("ticket", "status", "description", "requested_at", "updated_at", "due_at", "address", "location",
         "media_url", "ward_number", "community_area_number", "channel", "parent_id", "parent__ticket",
         "service_type__name", "service_type__code", "service_type__sla_text", "service_type__location_private",
         "department__name")  # fmt: skip


def _iso(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def as_open311(req: Any) -> dict[str, Any]:
    """One request in the spec's fields; never the reporter's name, e-mail or phone."""
    note = STATUS_NOTES.get(getattr(req, "last_public_verb", None) or "", "")
    private = req.service_type.location_private
    lon, lat, address, _ = public_place(
        private, req.location.x if req.location else None, req.location.y if req.location else None, req.address
    )
    if req.parent is not None:
        note = f"{note}: see {req.parent.ticket}" if note else f"see {req.parent.ticket}"
    return {
        "service_request_id": req.ticket,
        "status": "open" if req.status in OPEN_STATUSES else "closed",
        "status_notes": note or None,
        "service_name": req.service_type.name,
        "service_code": req.service_type.code,
        "description": mask_personal(req.description) or None,
        "agency_responsible": req.department.name,
        "service_notice": req.service_type.sla_text or None,
        "requested_datetime": _iso(req.requested_at),
        "updated_datetime": _iso(req.updated_at),
        "expected_datetime": _iso(req.due_at),
        "address": address or None,
        "address_id": None if private else (str(getattr(req, "o311_address_id", "") or "") or None),
        "zipcode": getattr(req, "o311_zipcode", None) or None,
        "lat": lat,
        "long": lon,
        "media_url": req.media_url or None,
    }


def _when(request: HttpRequest, name: str) -> dt.datetime | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace(" ", "+"))  # a '+' in a query string arrives as a space
    except ValueError:
        raise Open311Error(
            400, f"{name} {raw[:40]!r} is not a date-time; expected ISO 8601 such as 2026-11-24T08:00:00-06:00"
        ) from None
    offset = value.utcoffset()
    # Real UTC offsets run from -12:00 to +14:00 (PostgreSQL refuses beyond ±15:59); years as a 311 system has them.
    if (offset is not None and abs(offset) > dt.timedelta(hours=14)) or not 1900 <= value.year <= 2200:
        raise Open311Error(
            400, f"{name} {raw[:40]!r}: expected a date-time between 1900 and 2200 with a UTC offset of at most 14:00"
        )
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _listed(request: HttpRequest, name: str) -> list[str]:
    return [v.strip() for v in request.GET.get(name, "").split(",") if v.strip()]


def _search(request: HttpRequest) -> QuerySet[ServiceRequest]:
    """The matching public requests in the answer's order, as a bare query: the page is cut from it first and
    only the page's rows are dressed (`_dressed`), so a deep page costs no more than the first."""
    rows = ServiceRequest.objects.filter(service_type__sensitive=False)
    ids = _listed(request, "service_request_id")
    if ids:  # the spec: ids override every other parameter
        if len(ids) > MAX_IDS:
            raise Open311Error(400, f"service_request_id lists {len(ids)} ids; at most {MAX_IDS} at once")
        try:
            tickets = [normalize_ticket(i) for i in ids]
        except TicketError as exc:
            raise Open311Error(400, f"service_request_id: {exc}") from None
        return rows.filter(ticket__in=tickets).order_by("-requested_at")
    codes = _listed(request, "service_code")
    if codes:
        unknown = sorted(set(_public_types().unknown_codes(codes)))
        if unknown:
            raise Open311Error(
                400, f"service_code {', '.join(c[:80] for c in unknown)} is not a service here; see services.json"
            )
        rows = rows.filter(service_type__code__in=codes)
    wanted = {s.lower() for s in _listed(request, "status")}
    if wanted - {"open", "closed"}:
        raise Open311Error(
            400, f"status {', '.join(sorted(wanted - {'open', 'closed'}))[:80]!r}: expected open, closed or both"
        )
    if wanted == {"open"}:
        rows = rows.filter(status__in=OPEN_STATUSES)
    elif wanted == {"closed"}:
        rows = rows.exclude(status__in=OPEN_STATUSES)
    days = dt.timedelta(days=settings.OPEN311_MAX_DAYS)
    start, end = _when(request, "start_date"), _when(request, "end_date")
    after, before = _when(request, "updated_after"), _when(request, "updated_before")
    if after or before:  # Chicago's change feed: by last update; requested_datetime bounds only when given
        if after and before and after > before:
            raise Open311Error(400, "updated_after is after updated_before")
        rows = rows.filter(updated_at__gt=after) if after else rows
        rows = rows.filter(updated_at__lt=before) if before else rows
        if start is None and end is None:
            return rows.order_by("-requested_at", "-id")
    if start is None and end is None:
        end = timezone.now()
    if end is None:
        assert start is not None
        end = start + days
    if start is None:
        start = end - days
    if start > end:
        raise Open311Error(400, "start_date is after end_date")
    if end - start > days:
        raise Open311Error(
            400,
            f"the window from start_date to end_date is {(end - start).days} days; at most "
            f"{settings.OPEN311_MAX_DAYS} at once (page through it)",
        )
    return rows.filter(requested_at__gte=start, requested_at__lte=end).order_by("-requested_at", "-id")


@open311("service_requests", "request", methods=("GET", "POST"))
def service_requests(request: HttpRequest) -> tuple[Any, int]:
    if request.method == "POST":
        return post_request(request)
    pages = paging(request)
    found = _search(request).values_list("pk", flat=True)
    if pages:  # Chicago's paging: stable order (requested_datetime, then id, newest first)
        page, size = pages
        ids = list(found[(page - 1) * size : page * size])
    else:
        ids = list(found[: settings.OPEN311_MAX_REQUESTS])
    rows = _dressed(ids)
    base = [as_open311(r) for r in rows]
    return (extend(rows, base) if flag(request, "extensions") else base), 200


ROW = ("pk", "ticket", "status", "description", "requested_at", "updated_at", "due_at", "address", "media_url",
       "ward_number", "ward_code", "community_area_number", "channel", "parent_id", "parent__ticket",
       "service_type__name", "service_type__code", "service_type__sla_text", "service_type__location_private",
       "department__name", "last_public_verb", "o311_address_id", "o311_zipcode", "_lon", "_lat")  # fmt: skip


def _dressed(ids: list[int]) -> list[Any]:
    """The page's requests with everything one row shows, in one query, in the page's order: read as plain
    values into light records shaped like the model (a page of 500 full model instances, each with its type,
    department and parent, cost a third of the answer's time)."""
    rows = (
        _public_requests()
        .filter(pk__in=ids)
        .annotate(
            _lon=Func(F("location"), function="ST_X", output_field=FloatField()),
            _lat=Func(F("location"), function="ST_Y", output_field=FloatField()),
        )
        .values_list(*ROW)
    )
    by_id = {}
    for r in rows:
        v = dict(zip(ROW, r, strict=True))
        by_id[v["pk"]] = SimpleNamespace(
            **{k: v[k] for k in ROW if "__" not in k and not k.startswith("_")},
            location=SimpleNamespace(x=v["_lon"], y=v["_lat"]) if v["_lon"] is not None else None,
            parent=SimpleNamespace(ticket=v["parent__ticket"]) if v["parent_id"] else None,
            service_type=SimpleNamespace(
                name=v["service_type__name"],
                code=v["service_type__code"],
                sla_text=v["service_type__sla_text"],
                location_private=v["service_type__location_private"],
            ),
            department=SimpleNamespace(name=v["department__name"]),
        )
    return [by_id[i] for i in ids if i in by_id]


@open311("service_requests", "request")
def request_detail(request: HttpRequest, request_id: str) -> tuple[Any, int]:
    try:
        ticket = normalize_ticket(request_id)
    except TicketError as exc:
        raise Open311Error(400, f"service_request_id: {exc}") from None
    found = _public_requests().filter(ticket=ticket).first()
    if found is None:
        raise Open311Error(404, f"no public request has service_request_id {ticket}")
    base = [as_open311(found)]
    return (extend([found], base) if flag(request, "extensions") else base), 200


def _attributes(request: HttpRequest) -> dict[str, Any]:
    """attribute[CODE]=value, and attribute[CODE][]=v1&attribute[CODE][]=v2 for a multi-value list."""
    found: dict[str, Any] = {}
    for name in request.POST:
        m = re.fullmatch(r"attribute\[([^\]]+)\](\[\])?", name)
        if m:
            values = request.POST.getlist(name)
            found[m.group(1)] = values if m.group(2) else values[-1]
    return found


def _short(request: HttpRequest, name: str, limit: int) -> str:
    value = request.POST.get(name, "").strip()
    if len(value) > limit:
        raise Open311Error(400, f"{name} is at most {limit} characters; got {len(value)}")
    return value


def post_request(request: HttpRequest) -> tuple[Any, int]:
    key = _client(request)
    # Multipart bodies are parsed here, not by the input-limits middleware: NUL is refused field by field.
    for name, values in request.POST.lists():
        if any("\x00" in value for value in values) or "\x00" in name:
            raise Open311Error(400, f"{name[:40]!r} must not contain NUL characters")
    code = _short(request, "service_code", 80)
    if not code:
        raise Open311Error(400, "service_code is required; see services.json")
    stype = ServiceType.objects.active_by_code(code)
    if stype is None or stype.sensitive:  # the public list (_public_types) leaves sensitive types out
        raise Open311Error(400, f"service_code {code!r} is not a service here; see services.json")
    lat, lon = _short(request, "lat", 40), _short(request, "long", 40)
    address = _short(request, "address_string", 300)
    address_id = _short(request, "address_id", 40)
    point = None
    if address_id and not (lat or lon):
        point, from_layer = address_point(address_id)
        address = address or from_layer
    email = _short(request, "email", 254)
    media_url = _short(request, "media_url", 1000)
    for value, check, expected in (
        (email, EmailValidator(), "email must be an e-mail address"),
        (media_url, URLValidator(schemes=["http", "https"]), "media_url must be an http(s) URL to the photo"),
    ):
        try:
            if value:
                check(value)
        except ValidationError:
            raise Open311Error(400, f"{expected}; got {value[:80]!r}") from None
    name = " ".join(x for x in (_short(request, "first_name", 100), _short(request, "last_name", 100)) if x)
    phone = _short(request, "phone", 40)
    try:
        if point is not None:
            where = locate(str(point.x), str(point.y), address, LocatedBy.ADDRESS)
        else:
            where = locate(lon, lat, address, LocatedBy.PIN if (lat or lon) else LocatedBy.ADDRESS)
        req = create_request(
            IntakeData(
                service_code=stype.code,
                location=where.location,
                address=where.address,
                located_by=where.located_by,
                description=request.POST.get("description", ""),
                attributes=_attributes(request),
                channel=Channel.OPEN311,
                reporter_name=name,
                reporter_email=email,
                reporter_phone=phone,
                anonymous=not (name or email or phone),  # no contact: only where the type allows anonymity
                notify_via=NotifyVia.EMAIL if email else NotifyVia.NONE,
                media_url=media_url,
            ),
            actor_label=f"Open311 client {key.name}",
        )
    except IntakeError as exc:
        question = exc.field.removeprefix("attributes.")
        where_from = f"attribute[{question}]" if question != exc.field else PARAMETER.get(exc.field, exc.field)
        raise Open311Error(400, f"{where_from}: {exc.message}") from None
    notice = stype.sla_text
    if req.parent is not None:
        parent = req.parent
        notice = f"Already reported as {parent.ticket}: you will hear when it is fixed. {notice}".strip()
    return [
        {
            "service_request_id": req.ticket,
            "service_notice": notice or None,
            "account_id": request.POST.get("account_id") or None,
        }
    ], 201
