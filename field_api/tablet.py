"""The crew tablet page (/field/): an installable web app that keeps working with no signal.

Django serves the shell (the page, its manifest and its service worker) and the office's page that issues
one-time sign-in links; everything else the tablet does goes through the crew API with its device token.
The service worker lives at /field/sw.js so that its scope is /field/; its cache name carries a hash of the
files it caches, so a new release replaces the old shell the next time the tablet has signal.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_GET, require_http_methods

from field_api.crew.photo_links import read_photo_token
from field_api.models import DeviceSignIn, StopPhoto
from gis_app.qrcodes import qr_svg
from routing.models import Crew

# The shell the service worker keeps: the page, its code, the map library and the icons.
SHELL_STATIC = [
    "field_api/field.js",
    "field_api/field.css",
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet/leaflet.css",
    "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
    "layers/offline_map.js",
    "layers/offline_map.css",
    "field_api/icon-192.png",
    "field_api/icon-512.png",
]
THEME = "#10263f"


@require_GET
def field_page(request: HttpRequest) -> HttpResponse:
    return render(request, "field_api/field.html", {"theme": THEME})


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    body = {
        "name": f"{settings.CITY_NAME} 311 crew",
        "short_name": "311 crew",
        "start_url": "/field/",
        "scope": "/field/",
        "display": "standalone",
        "orientation": "any",
        "background_color": "#ffffff",
        "theme_color": THEME,
        "icons": [
            {"src": static("field_api/icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": static("field_api/icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
        ],
    }
    return HttpResponse(json.dumps(body), content_type="application/manifest+json")


@cache
def _shell_version() -> str:
    digest = hashlib.sha256()
    for name in [*SHELL_STATIC, "field_api/sw.js"]:
        path = finders.find(name)
        if path:
            with open(str(path), "rb") as fh:
                digest.update(fh.read())
    return digest.hexdigest()[:12]


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The worker's code, with the list of shell files and a version that changes when any of them does."""
    path = finders.find("field_api/sw.js")
    if not path:
        raise Http404("service worker missing")
    with open(str(path), encoding="utf-8") as fh:
        code = fh.read()
    shell = ["/field/", "/field/manifest.webmanifest"] + [static(n) for n in SHELL_STATIC]
    head = f"var SHELL = {json.dumps(shell)};\nvar VERSION = {json.dumps(_shell_version())};\n"
    response = HttpResponse(head + code, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/field/"
    return response


@require_GET
def photo(request: HttpRequest, token: str) -> FileResponse:
    """A crew photo by signed link (photo_links): 404 for a bad or expired link, never a directory listing."""
    found = read_photo_token(token)
    row = StopPhoto.objects.filter(pk=found[0]).first() if found else None
    if found is None or row is None:
        raise Http404("no such photo, or the link has expired")
    field = row.image if found[1] == "image" else row.thumbnail
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404("the photo file is missing") from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@permission_required("field_api.add_devicesignin", raise_exception=True)
@require_http_methods(["GET", "POST"])
def sign_in_links(request: HttpRequest) -> HttpResponse:
    """The office issues a tablet's one-time sign-in link: a QR code to scan, or the link to open."""
    crews = Crew.objects.filter(active=True).select_related("department").order_by("department__name", "name")
    context: dict[str, object] = {"crews": crews, "hours": settings.FIELD_SIGN_IN_HOURS}
    if request.method == "POST":
        crew = crews.filter(code=str(request.POST.get("crew", ""))[:60]).first()
        name = str(request.POST.get("name", "")).strip()[:120] or "Crew tablet"
        if crew is None:
            context["error"] = "choose the crew this tablet belongs to"
            return render(request, "field_api/sign_in_links.html", context, status=400)
        link, raw = DeviceSignIn.issue(crew, name, by=request.user, hours=settings.FIELD_SIGN_IN_HOURS)
        url = sign_in_url(request.build_absolute_uri("/field/"), raw)
        context.update(link=link, url=url, qr=qr_svg(url, box_size=10))
    return render(request, "field_api/sign_in_links.html", context)


def sign_in_url(field_url: str, raw: str) -> str:
    return f"{field_url}#signin={raw}"
