"""Open data: the city's requests as CSV or GeoJSON that a data portal can publish as they are.

What never leaves: reporter names, e-mail addresses, phone numbers, device and account ids; requests of
sensitive types; e-mail addresses and phone numbers typed into descriptions (masked). Types marked
`location_private` give their place only to the block: coordinates rounded to 0.001° (about 110 m north-south,
80 m east-west in Chicago) and the address as "1200 block of N STATE ST".

Rows are read with a server-side cursor and written as they come, so an export of any size runs in constant
memory; the web endpoint streams it, or above `OPENDATA_INLINE_MAX_ROWS` writes the file as a background job.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import CharField, F, FloatField, Func, QuerySet, Value
from django.utils import timezone

from gis_app.choices import OPEN_STATUSES
from gis_app.models import ServiceRequest, ServiceType
from gis_app.privacy import mask_personal, public_place
from layers.lookup import district_code, district_codes

FORMATS = ("csv", "geojson")

# The data dictionary: every published field, in order, with its type and meaning.
DICTIONARY: list[dict[str, str]] = [
    {"field": "service_request_id", "type": "text", "description": "The request's ticket number (universal, "
     "non-sequential), as in Open311 and on the track page."},
    {"field": "status", "type": "text", "description": "open or closed (Open311's base statuses)."},
    {"field": "service_code", "type": "text", "description": "The request type's code (Open311 service_code)."},
    {"field": "service_name", "type": "text", "description": "The request type's name."},
    {"field": "agency_responsible", "type": "text", "description": "The department that handles it."},
    {"field": "requested_datetime", "type": "datetime", "description": "When it was filed (ISO 8601 with offset)."},
    {"field": "updated_datetime", "type": "datetime", "description": "When it last changed."},
    {"field": "closed_datetime", "type": "datetime", "description": "When it was closed; empty while open."},
    {"field": "expected_datetime", "type": "datetime", "description": "When the city's service level says it "
     "should be done."},
    {"field": "ward", "type": "text", "description": "The district (ward) it lies in, on the map in force when "
     "filed, as the city writes its identifier ('3', '09410', 'District 3B')."},
    {"field": "community_area", "type": "text", "description": "The community area it lies in."},
    {"field": "channel", "type": "text", "description": "How it came in: phone, web, app, open311, email, ..."},
    {"field": "duplicate", "type": "boolean", "description": "true when it was merged into an earlier report."},
    {"field": "parent_service_request_id", "type": "text", "description": "The report it was merged into."},
    {"field": "address", "type": "text", "description": "Where, as placed by the city; for types whose places are "
     "private, only the block (e.g. '1200 block of N STATE ST')."},
    {"field": "location_precision", "type": "text", "description": "exact, or block where the type's places are "
     "private (coordinates rounded to 0.001 degree)."},
    {"field": "latitude", "type": "number", "description": "WGS84 latitude."},
    {"field": "longitude", "type": "number", "description": "WGS84 longitude."},
    {"field": "description", "type": "text", "description": "The reporter's words, with e-mail addresses and phone "
     "numbers masked."},
    {"field": "media_url", "type": "text", "description": "A photo the reporter linked, if any."},
]  # fmt: skip
FIELDS = [d["field"] for d in DICTIONARY]


class ExportError(ValueError):
    """A filter the export cannot use; the message says what was expected."""


@dataclass(frozen=True)
class ExportFilters:
    start: dt.date
    end: dt.date
    wards: tuple[int, ...] = ()
    types: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "wards": list(self.wards),
                "types": list(self.types)}  # fmt: skip

    def as_query(self) -> dict[str, str]:
        """The filters as `parse_export_filters` reads them (a queued export checks them again when it runs)."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "ward": ",".join(str(w) for w in self.wards), "service_code": ",".join(self.types)}  # fmt: skip


def parse_export_filters(data: Any) -> ExportFilters:
    """start/end (YYYY-MM-DD, default the last 30 days), ward (comma list), service_code (comma list)."""
    today = timezone.localdate()

    def day(name: str, default: dt.date) -> dt.date:
        raw = str(data.get(name) or "").strip()
        if not raw:
            return default
        try:
            return dt.date.fromisoformat(raw[:10])
        except ValueError:
            raise ExportError(f"{name} must be a date as YYYY-MM-DD; got {raw[:40]!r}") from None

    end = day("end", today)
    start = day("start", end - dt.timedelta(days=29))
    if start > end:
        raise ExportError(f"start ({start}) must not be after end ({end})")
    wards: list[int] = []
    for raw in str(data.get("ward") or "").split(","):
        if raw.strip():
            if not raw.strip().isdigit() or len(raw.strip()) > 6:
                raise ExportError(f"ward must be ward numbers separated by commas; got {raw.strip()[:20]!r}")
            wards.append(int(raw))
    codes = tuple(sorted({c.strip() for c in str(data.get("service_code") or "").split(",") if c.strip()}))[:200]
    if codes:
        unknown = ServiceType.objects.public().unknown_codes(codes)
        if unknown:
            raise ExportError(f"unknown service_code(s) {', '.join(c[:60] for c in unknown[:5])}; see /api/services/")
    return ExportFilters(start, end, tuple(sorted(set(wards))), codes)


def selected(f: ExportFilters) -> QuerySet[ServiceRequest]:
    rows = ServiceRequest.objects.filed_on_days(f.start, f.end).filter(service_type__sensitive=False)
    if f.wards:
        rows = rows.filter(ward_number__in=f.wards)
    if f.types:
        rows = rows.filter(service_type__code__in=f.types)
    return rows


# PostgreSQL writes the dates, in the city's zone (SET LOCAL TIME ZONE), as ISO 8601 with the offset: parsing
# them into Python datetimes and printing them again was a third of an export's time.
ISO = 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'
COLUMNS = ("ticket", "status", "service_type__code", "service_type__name", "department__name", "_requested",
           "_updated", "_closed", "_due", "ward_number", "community_area_number", "channel", "parent__ticket",
           "address", "_lat", "_lon", "description", "media_url", "service_type__location_private",
           "ward_layer_id")  # fmt: skip


def _text(field: str) -> Func:
    return Func(F(field), Value(ISO), function="to_char", output_field=CharField())


def raw_rows(f: ExportFilters, chunk: int = 5000) -> Iterator[tuple[Any, ...]]:
    """The export query's rows as they come, oldest first, from a server-side cursor (constant memory)."""
    qs = (
        selected(f)
        .annotate(
            _lat=Func(F("location"), function="ST_Y", output_field=FloatField()),
            _lon=Func(F("location"), function="ST_X", output_field=FloatField()),
            _requested=_text("requested_at"),
            _updated=_text("updated_at"),
            _closed=_text("closed_at"),
            _due=_text("due_at"),
        )
        .order_by("requested_at", "id")
        .values_list(*COLUMNS)
    )
    with transaction.atomic():  # the zone change lasts this transaction only
        with connection.cursor() as cur:
            cur.execute("SELECT set_config('TimeZone', %s, true)", [settings.TIME_ZONE])
        yield from qs.iterator(chunk_size=chunk)


def published(f: ExportFilters) -> Iterator[tuple[Any, ...]]:
    """Each published row as a tuple in FIELDS order: contact data never read, descriptions masked, private
    types' places to the block."""
    open_statuses = set(OPEN_STATUSES)
    codes: dict[int, dict[int, str]] = {}  # per district map: number → the code as the city writes it
    for r in raw_rows(f):
        if r[19] is not None and r[19] not in codes:
            codes[r[19]] = district_codes(r[19])
        lon, lat, address, precision = public_place(bool(r[18]), r[15], r[14], r[13] or "")
        yield (
            r[0],
            "open" if r[1] in open_statuses else "closed",
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            district_code(r[9], codes.get(r[19], {})),
            str(r[10]) if r[10] is not None else None,
            r[11],
            r[12] is not None,
            r[12],
            address or None,
            precision,
            lat,
            lon,
            mask_personal(r[16]) or None if r[16] else None,
            r[17] or None,
        )


def rows(f: ExportFilters) -> Iterator[dict[str, Any]]:
    """Published rows as dicts keyed by FIELDS."""
    for values in published(f):
        yield dict(zip(FIELDS, values, strict=True))


# Residents' text that a spreadsheet would run as a formula: a leading = + - @ gets a quote.
TEXT_COLUMNS = [FIELDS.index(n) for n in ("service_name", "address", "description", "media_url")]


def csv_chunks(f: ExportFilters, every: int = 1000) -> Iterator[str]:
    """The CSV as text chunks of `every` rows (a header first)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for n, values in enumerate(published(f), start=1):
        row = list(values)
        row[12] = "true" if row[12] else "false"
        for i in TEXT_COLUMNS:
            v = row[i]
            if v and v[0] in "=+-@":
                row[i] = "'" + v
        writer.writerow(row)
        if n % every == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def geojson_chunks(f: ExportFilters, every: int = 1000) -> Iterator[str]:
    """A GeoJSON FeatureCollection written feature by feature (never held whole)."""
    yield '{"type": "FeatureCollection", "features": ['
    buffer: list[str] = []
    first = True
    for row in rows(f):
        lat, lon = row.pop("latitude"), row.pop("longitude")
        geometry = {"type": "Point", "coordinates": [lon, lat]} if lat is not None else None
        text = json.dumps({"type": "Feature", "geometry": geometry, "properties": row}, ensure_ascii=False)
        buffer.append(text if first else "," + text)
        first = False
        if len(buffer) >= every:
            yield "".join(buffer)
            buffer = []
    yield "".join(buffer) + "]}"


def chunks(fmt: str, f: ExportFilters) -> Iterator[str]:
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}; got {fmt[:20]!r}")
    return csv_chunks(f) if fmt == "csv" else geojson_chunks(f)


def inline_limit() -> int:
    return int(settings.OPENDATA_INLINE_MAX_ROWS)
