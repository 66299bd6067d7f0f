"""Public pages: track a ticket, answer "is it fixed?". No personal data ever appears here."""

from __future__ import annotations

import json

from django.contrib.gis.geos import Polygon
from django.core import signing
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from gis_app.choices import OPEN_STATUSES, Status, public_status
from gis_app.intake import reopen_as_follow_up
from gis_app.models import ServiceRequest, SurveyAnswer
from gis_app.notifications import read_survey_token
from gis_app.privacy import public_place
from gis_app.tickets import TicketError, normalize_ticket
from gis_app.transitions import TransitionError, apply
from layers.coords import CoordinateError, bbox_from_param

PUBLIC_VERBS = {
    "received": _("Received"),
    "routed": _("Sent to the department"),
    "due_date_set": _("Expected date set"),
    "open": _("Opened"),
    "assign": _("Assigned to a crew"),
    "start": _("Work started"),
    "hold": _("On hold"),
    "resume": _("Resumed"),
    "could_not_complete": _("Crew could not complete; back in the queue"),
    "complete": _("Completed"),
    "close": _("Closed"),
    "mark_duplicate": _("Merged with an existing report"),
    "unmerge": _("Separated from the report it was merged with"),
    "cancel": _("Cancelled"),
    "reported_not_fixed": _("Reported as not fixed: a follow-up was opened"),
}


def track(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("ticket", "").strip()
    error = ""
    if raw:
        try:
            return redirect("track-detail", ticket=normalize_ticket(raw))
        except TicketError as exc:
            error = str(exc)
    return render(request, "gis_app/track.html", {"error": error, "typed": raw}, status=400 if error else 200)


def track_detail(request: HttpRequest, ticket: str) -> HttpResponse:
    try:
        canonical = normalize_ticket(ticket)
    except TicketError as exc:
        return render(request, "gis_app/track.html", {"error": str(exc), "typed": ticket}, status=400)
    req = (
        ServiceRequest.objects.select_related("service_type")
        .filter(ticket=canonical, service_type__sensitive=False)
        .first()
    )
    if req is None:
        return render(
            request,
            "gis_app/track.html",
            {"error": gettext("No public request has ticket %(ticket)s.") % {"ticket": canonical}, "typed": ticket},
            status=404,
        )
    history = [(e.at, PUBLIC_VERBS[e.verb]) for e in req.events.filter(public=True) if e.verb in PUBLIC_VERBS]
    # A report merged into another follows that issue: its status, its expected date, its completion.
    issue = req.parent if req.parent_id and req.parent and not req.parent.service_type.sensitive else req
    place = public_place(
        issue.service_type.location_private,
        issue.location.x if issue.location else None,
        issue.location.y if issue.location else None,
        issue.address,
    )
    completion = issue.events.filter(verb="complete").order_by("at", "id").last()
    context = {
        "req": req,
        "issue": issue,
        "history": history,
        "open": issue.status in OPEN_STATUSES,
        "status_label": public_status(issue.status),
        "completion": completion,
        "proof": bool(completion and _proof_name(completion.new)),
        "location": list(place[:2]) if issue.location else None,
        "where": place[2],
    }
    return render(request, "gis_app/track_detail.html", context)


def _proof_name(facts: dict[str, object]) -> str:
    """The completion's after photo (its stored name), from the audit event."""
    proof = facts.get("proof_photo")
    return proof if isinstance(proof, str) else ""


def track_proof(request: HttpRequest, ticket: str) -> FileResponse:
    """The photo a crew took as proof of completion, shown on the public track page (never a before photo)."""
    req = ServiceRequest.objects.filter(ticket=ticket, service_type__sensitive=False).first()
    completion = req.events.filter(verb="complete").order_by("at", "id").last() if req else None
    name = _proof_name(completion.new) if completion else ""
    if not name or not default_storage.exists(name):
        raise Http404("no completion photo for this request")
    response = FileResponse(default_storage.open(name, "rb"), content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    """ "Is it fixed?" for one completion: a forged, altered or expired link is refused; an answer is taken once
    (a second answer, or an answer about an earlier completion of a request done again, is refused)."""
    try:
        ticket, completion_id = read_survey_token(token)
    except signing.BadSignature:
        return _survey_page(request, {"error": gettext("This survey link is not valid or has expired.")}, 400)
    req = ServiceRequest.objects.select_related("service_type").filter(ticket=ticket).first()
    if req is None:
        return _survey_page(request, {"error": gettext("This survey link names no request.")}, 404)
    context: dict[str, object] = {"req": req}
    latest = req.events.filter(verb="complete").order_by("at", "id").last()
    if latest is None or latest.pk != completion_id:
        context["error"] = gettext("This link asked about an earlier visit; the work has been done again since.")
        return _survey_page(request, context, 410)
    if SurveyAnswer.objects.filter(completion_id=completion_id).exists():
        context["error"] = gettext("Thank you: this survey has already been answered.")
        return _survey_page(request, context, 410)
    if request.method == "POST":
        answer = request.POST.get("fixed")
        if answer not in ("yes", "no"):
            context["error"] = gettext("Please answer yes or no.")
            return _survey_page(request, context, 400)
        try:
            with transaction.atomic():
                SurveyAnswer.objects.create(request=req, completion_id=completion_id, fixed=answer == "yes")
                if answer == "yes":
                    if req.status == Status.COMPLETED:
                        apply(req, "close", actor_label="resident survey", note="resident confirmed it is fixed")
                    context["thanks"] = gettext("Thank you for confirming.")
                else:
                    context["follow_up"] = reopen_as_follow_up(req, note="resident says it is not fixed")
        except IntegrityError:  # two answers at once: the first one counts
            context["error"] = gettext("Thank you: this survey has already been answered.")
            return _survey_page(request, context, 410)
        except TransitionError as exc:
            context["error"] = str(exc)
            return _survey_page(request, context, 409)
    return _survey_page(request, context, 200)


def _survey_page(request: HttpRequest, context: dict[str, object], status: int) -> HttpResponse:
    return render(request, "gis_app/survey.html", context, status=status)


MAP_LIMIT = 3000


def requests_geojson(request: HttpRequest) -> HttpResponse:
    """Open, non-sensitive requests in a box, for the city map: ticket, type, status, date. No personal data."""

    try:
        box = Polygon.from_bbox(bbox_from_param(request.GET.get("bbox")))
    except CoordinateError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    box.srid = 4326
    rows = (
        ServiceRequest.objects.open()
        .filter(location__within=box, service_type__sensitive=False)
        .values_list(
            "ticket", "service_type__name", "status", "requested_at", "location", "service_type__location_private"
        )
        .order_by("-requested_at")[:MAP_LIMIT]
    )
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(public_place(private, p.x, p.y, "")[:2])},
            "properties": {"ticket": t, "type": name, "status": st, "requested_at": at.isoformat()},
        }
        for t, name, st, at, p, private in rows
        if p is not None
    ]
    body = json.dumps({"type": "FeatureCollection", "features": features, "truncated": len(features) == MAP_LIMIT})
    return HttpResponse(body, content_type="application/geo+json")
