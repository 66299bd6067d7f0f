"""A GeoReport v2 client written only from the specification's text (../shared/reference/open311.md, sections 2-7),
never from this project's serializers: what any third-party Open311 client does.

Why not a library: the one Open311 client on PyPI, `open311` 1.1 (Code for America, 2011), cannot be imported on
Python 3 (`from xml2dict import xml2dict` is a Python 2 implicit relative import), and no other is published.

Standard library only: urllib for HTTP, json, and xml.etree for the XML answers (well-formedness is checked:
a broken document raises).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any


class Open311Failure(Exception):
    """The server answered with the spec's error list."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors


class SpecClient:
    def __init__(self, discovery_url: str, api_key: str = "", fmt: str = "json") -> None:
        self.discovery_url = discovery_url
        self.api_key = api_key
        self.fmt = fmt
        self.base = ""

    # -- transport (section 2: suffix picks the format, POST bodies are form-encoded UTF-8) ------------------
    def _call(self, path: str, params: dict[str, Any] | None = None, form: list[tuple[str, str]] | None = None) -> Any:
        url = f"{self.base}/{path}.{self.fmt}"
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        data = urllib.parse.urlencode(form).encode("utf-8") if form is not None else None
        req = urllib.request.Request(url, data=data)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                return self._parse(answer.read(), answer.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as exc:
            errors = self._parse(exc.read(), exc.headers.get("Content-Type", ""))
            raise Open311Failure(exc.code, errors if isinstance(errors, list) else [errors]) from None

    def _parse(self, raw: bytes, content_type: str) -> Any:
        if "xml" in content_type:
            root = ET.fromstring(raw)  # raises on a document that is not well-formed
            return self._from_xml(root)
        return json.loads(raw.decode("utf-8"))

    def _from_xml(self, root: ET.Element) -> Any:
        """The Spark convention (section 2): a list wrapper becomes a list of its children as dicts."""

        def value(el: ET.Element) -> Any:
            kids = list(el)
            if not kids:
                return el.text
            if el.tag in ("attributes", "values", "formats", "endpoints", "notes"):  # the spec's nested wrappers
                return [value(k) for k in kids]
            return {k.tag: value(k) for k in kids}

        if root.tag in ("services", "service_requests", "errors", "service_request_updates"):
            return [value(child) for child in root]
        return value(root)

    # -- the spec's calls ---------------------------------------------------------------------------------
    def discover(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.discovery_url, timeout=30) as answer:
            doc = json.loads(answer.read().decode("utf-8"))
        endpoint = next(e for e in doc["endpoints"] if e["specification"] == "http://wiki.open311.org/GeoReport_v2")
        self.base = endpoint["url"].rstrip("/")
        return doc

    def services(self) -> list[dict[str, Any]]:
        return list(self._call("services"))

    def definition(self, service_code: str) -> dict[str, Any]:
        return dict(self._call(f"services/{urllib.parse.quote(service_code)}"))

    def post(self, service_code: str, *, lat: float, long: float, attributes: dict[str, Any], **fields: str) -> str:
        """Section 4.4: returns the service_request_id of a realtime service (or fails on a token)."""
        form: list[tuple[str, str]] = [("api_key", self.api_key), ("service_code", service_code),
                                       ("lat", str(lat)), ("long", str(long))]  # fmt: skip
        for code, answer in attributes.items():
            if isinstance(answer, list):
                form += [(f"attribute[{code}][]", str(a)) for a in answer]
            else:
                form.append((f"attribute[{code}]", str(answer)))
        form += [(k, v) for k, v in fields.items()]
        (created,) = self._call("requests", form=form)
        if created.get("service_request_id"):
            return str(created["service_request_id"])
        raise AssertionError(f"a realtime service answered without an id: {created}")

    def request(self, service_request_id: str, **params: Any) -> dict[str, Any]:
        (one,) = self._call(f"requests/{urllib.parse.quote(service_request_id)}", params or None)
        return dict(one)

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        return list(self._call("requests", params))

    def all_pages(self, page_size: int = 50, **params: Any) -> list[dict[str, Any]]:
        """Chicago's extension (section 7.1): page until an empty page."""
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            got = self.requests(page=page, page_size=page_size, **params)
            if not got:
                return rows
            rows += got
            page += 1

    def updates(self, start_date: str, end_date: str | None = None) -> list[dict[str, Any]]:
        """FixMyStreet's extension (section 7.2)."""
        return list(self._call("servicerequestupdates", {"start_date": start_date, "end_date": end_date}))
