"""FixMyStreet's `servicerequestupdates` (read: what changed since a time; write: a client's comment on a
request) and the spec's token lookup, which a server that returns ids at once answers with 404."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from field_api.open311.extensions import FEED_VERBS, VERB_STATUS, feed_window, is_automated, paging
from field_api.open311.keys import _client
from field_api.open311.render import Open311Error
from field_api.open311.views import _short, _when, open311
from gis_app.audit import record
from gis_app.models import RequestEvent, ServiceRequest
from gis_app.privacy import mask_personal
from gis_app.public_views import PUBLIC_VERBS, _proof_name
from gis_app.tickets import TicketError, normalize_ticket

MAX_UPDATES = 1000  # the base spec's list limit, for a feed read without paging
ACCEPTED_STATUSES = {"OPEN", "CLOSED", "FIXED", "IN_PROGRESS", "ACTION_SCHEDULED", "INVESTIGATING", "DUPLICATE",
                     "NOT_COUNCILS_RESPONSIBILITY", "NO_FURTHER_ACTION"}  # fmt: skip


def _update(e: RequestEvent, request: HttpRequest) -> dict[str, Any]:
    proof = e.verb == "complete" and bool(_proof_name(e.new or {}))
    return {
        "update_id": str(e.pk),
        "service_request_id": e.request.ticket,
        "status": VERB_STATUS.get(e.verb, "OPEN"),
        "updated_datetime": timezone.localtime(e.at).isoformat(timespec="seconds"),
        "description": mask_personal(e.note) if e.verb == "comment" else str(PUBLIC_VERBS.get(e.verb, "")),
        "media_url": request.build_absolute_uri(f"/track/{e.request.ticket}/proof.jpg") if proof else None,
        "automated": is_automated(e),
    }


@open311("service_request_updates", "request_update", methods=("GET", "POST"))
def service_request_updates(request: HttpRequest) -> tuple[Any, int]:
    """GET: public steps of public requests whose time falls in [start_date, end_date] (default: the last day),
    oldest first, stable by id; `page`/`page_size` walk a long window. POST: a client's comment."""
    if request.method == "POST":
        return _post_update(request)
    start, end = feed_window(request, _when)
    rows = (
        RequestEvent.objects.filter(
            at__gte=start, at__lte=end, public=True, verb__in=FEED_VERBS, request__service_type__sensitive=False
        )
        .select_related("request")
        .order_by("at", "id")
    )
    pages = paging(request)
    if pages:
        page, size = pages
        rows = rows[(page - 1) * size : page * size]
    else:
        rows = rows[:MAX_UPDATES]
    return [_update(e, request) for e in rows], 200


def _post_update(request: HttpRequest) -> tuple[Any, int]:
    key = _client(request)
    raw = _short(request, "service_request_id", 40)
    if not raw:
        raise Open311Error(400, "service_request_id is required")
    try:
        ticket = normalize_ticket(raw)
    except TicketError as exc:
        raise Open311Error(400, f"service_request_id: {exc}") from None
    req = ServiceRequest.objects.filter(ticket=ticket, service_type__sensitive=False).first()
    if req is None:
        raise Open311Error(404, f"no public request has service_request_id {ticket}")
    text = _short(request, "description", 4000)
    if not text:
        raise Open311Error(400, "description is required: the update's text")
    status = _short(request, "status", 40).upper().replace(" ", "_")
    if status and status not in ACCEPTED_STATUSES:
        raise Open311Error(400, f"status {status[:40]!r}: expected one of {', '.join(sorted(ACCEPTED_STATUSES))}")
    ext = _short(request, "update_id_ext", 100)
    if ext:  # the same update sent twice (a retry) is recorded once
        seen = RequestEvent.objects.filter(request=req, verb="comment", new__client=key.name, new__update_id_ext=ext)
        if (first := seen.first()) is not None:
            return [{"update_id": str(first.pk)}], 200
    # A client's word never changes our status: crews and staff do. The status it reports is kept with the text.
    event = record(
        req,
        "comment",
        actor_label=f"Open311 client {key.name}",
        new={"client": key.name, "update_id_ext": ext, "reported_status": status},
        note=text,
    )
    return [{"update_id": str(event.pk)}], 200


@open311("service_requests", "request")
def token(request: HttpRequest, token: str) -> tuple[Any, int]:
    """Every service here is `realtime`: POST answers with the service_request_id itself, so no token is ever
    issued and every token is unknown (the spec's 404)."""
    raise Open311Error(
        404, f"no token {token[:40]!r}: this server returns service_request_id at once and issues no tokens"
    )
