"""The Open311 JSON endpoints in /api/schema/ (a drf-spectacular postprocessing hook): they are plain Django
views in the spec's own shapes, so the generator cannot see them; written here from the same field lists the
views answer with, so API clients and schemathesis can check every answer against it.

XML answers are the same documents in the spec's element names and are not described here (OpenAPI has no
useful way to say so); tests parse them with a strict parser instead.
"""

from __future__ import annotations

from typing import Any

TEXT = {"type": "string", "nullable": True}
WHEN = {"type": "string", "format": "date-time", "nullable": True}
NUMBER = {"type": "number", "nullable": True}
ERRORS = {
    "description": "The spec's error list",
    "content": {
        "application/json": {
            "schema": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "description"],
                    "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
                },
            }
        }
    },
}
REQUEST = {
    "type": "object",
    "required": ["service_request_id", "status", "service_code", "requested_datetime"],
    "properties": {
        "service_request_id": {"type": "string"},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "status_notes": TEXT,
        "service_name": {"type": "string"},
        "service_code": {"type": "string"},
        "description": TEXT,
        "agency_responsible": TEXT,
        "service_notice": TEXT,
        "requested_datetime": {"type": "string", "format": "date-time"},
        "updated_datetime": WHEN,
        "expected_datetime": WHEN,
        "address": TEXT,
        "address_id": TEXT,
        "zipcode": TEXT,
        "lat": NUMBER,
        "long": NUMBER,
        "media_url": TEXT,
        "extended_attributes": {"type": "object"},
        "notes": {"type": "array", "items": {"type": "object"}},
    },
}
SERVICE = {
    "type": "object",
    "required": ["service_code", "service_name", "metadata", "type"],
    "properties": {
        "service_code": {"type": "string"},
        "service_name": {"type": "string"},
        "description": TEXT,
        "metadata": {"type": "boolean"},
        "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
        "keywords": TEXT,
        "group": TEXT,
    },
}
UPDATE = {
    "type": "object",
    "required": ["update_id", "service_request_id", "status", "updated_datetime"],
    "properties": {
        "update_id": {"type": "string"},
        "service_request_id": {"type": "string"},
        "status": {"type": "string"},
        "updated_datetime": {"type": "string", "format": "date-time"},
        "description": TEXT,
        "media_url": TEXT,
        "automated": {"type": "boolean"},
    },
}


def _ok(schema: dict[str, Any], status: str = "200") -> dict[str, Any]:
    return {status: {"description": "OK", "content": {"application/json": {"schema": schema}}}}


def _query(name: str, description: str, fmt: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if fmt:
        schema["format"] = fmt
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): ERRORS for c in codes}


LIST_PARAMS = [
    _query("service_request_id", "Comma-separated ids; when given, every other filter is ignored"),
    _query("service_code", "Comma-separated type codes"),
    _query("start_date", "W3C date-time with zone; on requested_datetime", "date-time"),
    _query("end_date", "W3C date-time with zone", "date-time"),
    _query("status", "open, closed or open,closed"),
    _query("extensions", "true adds extended_attributes and notes (Chicago)"),
    _query("page", "Page number (Chicago)"),
    _query("page_size", "Rows per page, 1 to 500 (Chicago)"),
    _query("updated_after", "W3C date-time: changed after (Chicago)", "date-time"),
    _query("updated_before", "W3C date-time: changed before (Chicago)", "date-time"),
]
POST_FORM = {
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["api_key", "service_code"],
                "properties": {
                    name: {"type": "string"}
                    for name in (
                        "api_key",
                        "service_code",
                        "lat",
                        "long",
                        "address_string",
                        "address_id",
                        "email",
                        "first_name",
                        "last_name",
                        "phone",
                        "description",
                        "media_url",
                        "account_id",
                    )
                },
            }
        }
    }
}


def open311_paths(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: add the Open311 JSON endpoints."""
    tag = ["open311"]
    paths = result.setdefault("paths", {})
    paths["/open311/v2/discovery.json"] = {
        "get": {"operationId": "open311_discovery", "tags": tag, "responses": _ok({"type": "object"})}
    }
    paths["/open311/v2/services.json"] = {
        "get": {
            "operationId": "open311_services",
            "tags": tag,
            "responses": _ok({"type": "array", "items": SERVICE}) | _errors(404, 429),
        }
    }
    paths["/open311/v2/services/{service_code}.json"] = {
        "get": {
            "operationId": "open311_service_definition",
            "tags": tag,
            "parameters": [_path("service_code")],
            "responses": _ok({"type": "object", "required": ["service_code", "attributes"]}) | _errors(404, 429),
        }
    }
    paths["/open311/v2/requests.json"] = {
        "get": {
            "operationId": "open311_requests",
            "tags": tag,
            "parameters": LIST_PARAMS,
            "responses": _ok({"type": "array", "items": REQUEST}) | _errors(400, 404, 429),
        },
        "post": {
            "operationId": "open311_post_request",
            "tags": tag,
            "requestBody": POST_FORM,
            "responses": _ok({"type": "array", "items": {"type": "object"}}, "201") | _errors(400, 403, 404, 429),
        },
    }
    _more_paths(paths, tag)
    return result


def _more_paths(paths: dict[str, Any], tag: list[str]) -> None:
    """One request, tokens and FixMyStreet's updates feed."""
    paths["/open311/v2/requests/{service_request_id}.json"] = {
        "get": {
            "operationId": "open311_request",
            "tags": tag,
            "parameters": [_path("service_request_id"), _query("extensions", "true adds extensions")],
            "responses": _ok({"type": "array", "items": REQUEST}) | _errors(400, 404, 429),
        }
    }
    paths["/open311/v2/tokens/{token}.json"] = {
        "get": {
            "operationId": "open311_token",
            "tags": tag,
            "parameters": [_path("token")],
            "responses": _ok({"type": "array", "items": {"type": "object"}}) | _errors(404, 429),
        }
    }
    paths["/open311/v2/servicerequestupdates.json"] = {
        "get": {
            "operationId": "open311_updates",
            "tags": tag,
            "parameters": [
                _query("start_date", "W3C date-time", "date-time"),
                _query("end_date", "W3C date-time", "date-time"),
                _query("page", "Page"),
                _query("page_size", "1 to 500"),
            ],
            "responses": _ok({"type": "array", "items": UPDATE}) | _errors(400, 429),
        },
        "post": {
            "operationId": "open311_post_update",
            "tags": tag,
            "requestBody": {
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["api_key", "service_request_id", "description"],
                            "properties": {
                                n: {"type": "string"}
                                for n in (
                                    "api_key",
                                    "service_request_id",
                                    "description",
                                    "status",
                                    "update_id_ext",
                                    "updated_datetime",
                                )
                            },
                        }
                    }
                }
            },
            "responses": _ok({"type": "array", "items": {"type": "object", "required": ["update_id"]}})
            | _errors(400, 403, 404, 429),
        },
    }
