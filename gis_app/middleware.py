"""Input limits and safe headers, in one place for every page and API.

`InputLimits` refuses, before any view runs, what views should never have to parse: control characters in
the path, query string or credentials; NUL in a form or JSON body (PostgreSQL cannot store it: it used to be a
500; other control characters in a description are kept and cleaned where they are shown, as Open311's XML
does); more query parameters or form fields than
settings.DATA_UPLOAD_MAX_NUMBER_FIELDS; JSON nested deeper than settings.MAX_JSON_DEPTH (deep nesting makes
the JSON parser recurse until it fails) or carrying an escaped NUL. Each refusal is a 400 that says what was
expected, in the API's error shape on /api/, the Open311 spec's list on /open311/, plain text elsewhere.

`SafeHeaders` adds a Content-Security-Policy (scripts from our own files only) and Permissions-Policy
everywhere, a `Server` header without a version, and `Cache-Control: no-store` on responses that may carry
personal data (the staff API, the admin, staff pages) unless the view set its own caching.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from layers.http import error_body

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NUL = re.compile("\x00")
ESCAPED_NUL = re.compile(rb"\\u0000", re.IGNORECASE)
NO_STORE_PREFIXES = ("/api/", "/admin/", "/intake/", "/dispatch/", "/accounts/")
FORM = "application/x-www-form-urlencoded"
STATIC_PREFIX = "/" + settings.STATIC_URL.lstrip("/")


class InputLimits:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = check_request(request)
        if problem is not None:
            return refusal(request, *problem)
        return self.get_response(request)


def check_request(request: HttpRequest) -> tuple[str, str] | None:
    """(field, what was expected) for the first limit the request breaks, or None."""
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if CONTROL.search(request.path):
        return "path", "the address must not contain control characters"
    for header, name in (("HTTP_AUTHORIZATION", "Authorization"), ("HTTP_X_API_KEY", "X-Api-Key")):
        if CONTROL.search(request.META.get(header, "")):
            return name, f"the {name} header must not contain control characters"
    problem = _pairs(request.META.get("QUERY_STRING", ""), limit, "query parameters")
    if problem is not None:
        return problem
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    content_type = request.content_type or ""
    if content_type == FORM:
        return _pairs(request.body.decode("utf-8", "replace"), limit, "form fields", NUL)
    if content_type == "application/json" or content_type.endswith("+json"):
        return _json(request.body)
    return None


def _pairs(encoded: str, limit: int, what: str, refused: re.Pattern[str] = CONTROL) -> tuple[str, str] | None:
    try:
        pairs = parse_qsl(encoded, keep_blank_values=True, max_num_fields=limit)
    except ValueError:
        return what, f"at most {limit} {what} in one request"
    for key, value in pairs:
        if refused.search(key) or refused.search(value):
            field = key if not refused.search(key) else "name"
            if refused is NUL:
                return field[:60], "text must not contain NUL characters"
            return field[:60], "text must not contain control characters (tabs and line breaks are fine)"
    return None


def _json(body: bytes) -> tuple[str, str] | None:
    if ESCAPED_NUL.search(body) or b"\x00" in body:
        return "body", "text must not contain NUL characters"
    if body.count(b"[") + body.count(b"{") > settings.MAX_JSON_DEPTH and json_depth(body) > settings.MAX_JSON_DEPTH:
        return "body", f"JSON may nest at most {settings.MAX_JSON_DEPTH} levels of objects and lists"
    return None


def json_depth(body: bytes) -> int:
    """The deepest nesting of objects and lists in a JSON text, without parsing it (strings are skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def refusal(request: HttpRequest, field: str, expected: str, status: int = 400) -> HttpResponse:
    message = f"{field}: {expected}"
    if request.path.startswith("/open311/"):
        if request.path.endswith(".xml"):
            body = (
                '<?xml version="1.0" encoding="utf-8"?>\n<errors><error>'
                f"<code>{status}</code><description>{escape(message)}</description></error></errors>"
            )
            return HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")
        return HttpResponse(
            json.dumps([{"code": status, "description": message}]),
            status=status,
            content_type="application/json; charset=utf-8",
        )
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(message, status, field=field), status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class SafeHeaders:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        # No version banner: a WSGI server that fills in its own `Server` (wsgiref's names Python's version)
        # keeps the one given here. A server that forces its own name (gunicorn) names no version.
        response["Server"] = settings.SERVER_NAME_HEADER
        if request.path.startswith(NO_STORE_PREFIXES) and "Cache-Control" not in response.headers:
            response["Cache-Control"] = "no-store"
        elif (
            request.path.startswith(STATIC_PREFIX)
            and response.status_code == 200
            and "Cache-Control" not in response.headers
        ):
            # Static files served by Django itself (the demo): cacheable for a while, so a tablet's service worker
            # fills its cache from what the page just downloaded instead of downloading it all again.
            response["Cache-Control"] = f"public, max-age={settings.STATIC_MAX_AGE_SECONDS}"
        return response


def client_ip(request: HttpRequest) -> str:
    """The caller's address: the socket's, or with TRUSTED_PROXIES = n, the n-th X-Forwarded-For entry from
    the right (what the nearest trusted proxy saw). The same rule as the API throttles (DRF's NUM_PROXIES)."""
    proxies = int(str(settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0))
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if proxies and forwarded:
        return forwarded[-min(proxies, len(forwarded))]
    return str(request.META.get("REMOTE_ADDR", ""))
