"""Staff and public pages. Thin: they render templates; data comes from the layers API."""

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from gis_app.choices import Channel, NotifyVia
from gis_app.middleware import refusal
from gis_app.models import ServiceRequest, ServiceType


def home(request: HttpRequest) -> HttpResponse:
    """The city map: current wards drawn from the city's own layer; click anywhere to look it up."""
    return render(request, "gis_app/home.html")


@login_required
@permission_required("gis_app.add_servicerequest", raise_exception=True)
def intake(request: HttpRequest) -> HttpResponse:
    """Intake staff drop a pin, pick a type, see the issues the call may repeat, and file or attach the caller."""
    types = list(ServiceType.objects.filter(active=True).prefetch_related("attributes").order_by("group", "name"))
    # What the page needs to draw each type's questions and its anonymity rule (a JSON data block, not a script).
    described = {
        t.code: {
            "name": t.name,
            "anonymous_allowed": t.anonymous_allowed,
            "force_anonymous": t.force_anonymous,
            "attributes": [
                {
                    "code": a.code,
                    "datatype": a.datatype,
                    "required": a.required,
                    "description": a.description,
                    "values": a.values,
                }
                for a in t.attributes.all()
            ],
        }
        for t in types
    }
    return render(
        request,
        "gis_app/intake.html",
        {
            "types": types,
            "described": described,
            "channels": Channel.choices,
            "notify": NotifyVia.choices,
            "to_confirm": ServiceRequest.objects.to_confirm().count(),
            "LANGUAGES": settings.LANGUAGES,
        },
    )


@login_required
def start(request: HttpRequest) -> HttpResponse:
    """Where signing in lands: the page of the signed-in role (intake for clerks, dispatch for dispatchers, the
    planner's page, the ward map for council members and managers, the admin for administrators), else the
    city map."""
    user = request.user
    if user.is_superuser:
        return redirect("admin:index")
    if user.has_perm("routing.change_routeplan"):
        return redirect("routing:dispatch")
    if user.has_perm("gis_app.add_servicerequest"):
        return redirect("intake")
    if user.has_perm("planner.add_hotspotrun"):
        return redirect("planner:page")
    if user.has_perm("reports.view_reports"):  # council members and managers: the ward map
        return redirect("reports:council")
    if user.is_staff:
        return redirect("admin:index")
    return redirect("home")


@login_required
@permission_required("gis_app.add_servicerequest", raise_exception=True)
def to_confirm(request: HttpRequest) -> HttpResponse:
    """The queue of requests filed with only the caller's words for a place: staff place each (audited)."""
    waiting = ServiceRequest.objects.to_confirm().select_related("service_type").order_by("requested_at")[:500]
    return render(request, "gis_app/to_confirm.html", {"waiting": waiting})


def api_not_found(request: HttpRequest) -> HttpResponse:
    """An API path that matches no endpoint: a 404 a program can read (Open311 in the spec's own list)."""
    return refusal(request, "path", f"no endpoint at {request.path[:200]}; see /api/schema/", status=404)
