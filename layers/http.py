"""The one JSON error shape of the staff, crew and layer APIs (Open311 keeps the spec's own list).

    {"detail": "what is wrong and what was expected", "code": "invalid", "field": "lon"}

`detail` is always there and reads on its own; `code` is a stable word a client can branch on (DRF's codes:
invalid, parse_error, not_authenticated, permission_denied, not_found, method_not_allowed, throttled …, plus
conflict and unavailable); `field` names the one input at fault, when there is one; a validation error about
several fields also carries `errors` ({field: [messages]}). Views return `error(...)`; anything DRF raises
is reshaped by `exception_handler` (settings REST_FRAMEWORK["EXCEPTION_HANDLER"]). It lives in the lowest
app so every app's API can use it.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

CODES = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "not_authenticated",
    status.HTTP_403_FORBIDDEN: "permission_denied",
    status.HTTP_404_NOT_FOUND: "not_found",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE: "too_large",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
    status.HTTP_503_SERVICE_UNAVAILABLE: "unavailable",
}


def error_body(
    detail: str,
    status_code: int,
    *,
    field: str | None = None,
    code: str | None = None,
    errors: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail, "code": code or CODES.get(status_code, "error")}
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return body


def error(
    detail: str, status_code: int = status.HTTP_400_BAD_REQUEST, *, field: str | None = None, code: str | None = None
) -> Response:
    """An error response in the one shape."""
    return Response(error_body(detail, status_code, field=field, code=code), status=status_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, headers such as Retry-After and WWW-Authenticate), then the body in the one shape."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    code = _code(exc)
    field = None
    errors = None
    if isinstance(data, dict) and "detail" in data and len(data) == 1:
        detail = str(data["detail"])
    elif isinstance(data, dict):
        errors = {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in data.items()}
        field = next(iter(errors)) if len(errors) == 1 else None
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
    elif isinstance(data, list):
        detail = " ".join(str(m) for m in data)
    else:
        detail = str(data)
    response.data = error_body(detail, response.status_code, field=field, code=code, errors=errors)
    return response


def _code(exc: Exception) -> str | None:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    if isinstance(exc, exceptions.APIException):
        return str(exc.default_code)
    return None
