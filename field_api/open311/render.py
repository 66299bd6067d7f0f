"""GeoReport v2 output: JSON or XML by the URL's suffix, and the spec's error list."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from django.http import HttpResponse

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


CHANGESET = "2026-11-25T00:00:00Z"  # when this API's shape last changed (discovery)


FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


PLURALS = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}


class Open311Error(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


# Characters XML 1.0 cannot carry at all (a description pasted from elsewhere may hold them).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any, name: str) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _fill(ET.SubElement(element, key), inner, key)
    elif isinstance(value, list):
        for inner in value:
            child = PLURALS.get(name, "item")
            _fill(ET.SubElement(element, child), inner, child)
    else:
        element.text = _text(value)


def render(fmt: str, data: Any, root: str, item: str | None = None, status: int = 200) -> HttpResponse:
    """JSON as the spec shows it; XML with the spec's element names (services/service,
    service_requests/request, service_definition, errors/error, discovery), UTF-8 with its declaration."""
    if fmt == "xml":
        top = ET.Element(root)
        if item is not None:
            for entry in data:
                _fill(ET.SubElement(top, item), entry, item)
        else:
            _fill(top, data, root)
        body = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(top, encoding="unicode")
    else:
        body = json.dumps(data, ensure_ascii=False, default=str)
    return HttpResponse(body.encode("utf-8"), status=status, content_type=FORMATS.get(fmt, FORMATS["json"]))
