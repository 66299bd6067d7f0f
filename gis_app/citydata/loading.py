"""Load a city's 311 export through a declarative column mapping (fixtures/<city>/311_mapping.toml).

The mapping says which column holds the id, type, department, dates (formats, time zone), status
(and how its values map to ours), channel, address, lon/lat or projected x/y (with their SRID),
the source's own ward, and the duplicate flag with the parent id. Service types and departments are
derived from the data. Wards come from our ward map in force on the filing date (the source's ward
is kept beside it); coordinates are the source's, never re-geocoded. Bad rows (no type, an
unparseable date, a coordinate outside the city) are reported with line numbers and skipped whole;
the good rows load in one transaction as one recorded ImportBatch. Re-loading the same file is a no-op.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils.text import slugify

from gis_app.choices import Channel, LocatedBy, NotifyVia, Status
from gis_app.models import Department, ImportBatch, RequestEvent, ServiceRequest, ServiceType
from gis_app.placement import place_requests
from gis_app.transitions import CLOSING
from layers.coords import CoordinateError, point_from_lonlat, point_from_projected
from layers.importing import refresh_statistics
from layers.lookup import numbers_at
from layers.manifests import read_toml
from layers.models import LayerKind

Progress = Callable[[int, int], None]


class MappingError(ValueError):
    """The mapping file itself is wrong; the message says which key."""


@dataclass
class Mapping:
    path: Path
    name: str
    file: Path
    tz: ZoneInfo
    date_formats: list[str]
    delimiter: str
    columns: dict[str, str]
    xy_srid: int | None
    status_map: dict[str, str]
    channel_map: dict[str, str]
    true_values: set[str]
    information_only: set[str]
    not_dispatchable: set[str]
    null_values: frozenset[str] = frozenset()  # what the export writes for "no value" ("NA", "NULL")
    # A row is a duplicate when its `duplicate` column holds a true value, or when the [duplicates] column
    # (columns["_duplicate_text"]) matches `duplicate_pattern` ("Case is a Duplicate - …"); the parent's id
    # may be captured from that text.
    duplicate_pattern: re.Pattern[str] | None = None
    parent_pattern: re.Pattern[str] | None = None

    def duplicate_of(self, row: dict[str, str]) -> tuple[bool, str | None]:
        """(is a duplicate, the parent's id or None) as the mapping reads them from the row."""
        flagged = self.get(row, "duplicate") in self.true_values
        text = self.get(row, "_duplicate_text")
        if self.duplicate_pattern is not None and self.duplicate_pattern.search(text):
            flagged = True
        parent = self.get(row, "parent_id") or None
        if parent is None and flagged and self.parent_pattern is not None:
            found = self.parent_pattern.search(text)
            parent = (found.group(1) if found.groups() else found.group(0)) if found else None
        return flagged, parent

    @classmethod
    def read(cls, path: Path) -> Mapping:
        data = read_toml(path, MappingError, "mapping file")
        src, cols = data.get("source", {}), data.get("columns", {})
        for key in ("id", "type_name", "created"):
            if key not in cols:
                raise MappingError(f"{path}: [columns] needs '{key}'")
        if not (("lon" in cols and "lat" in cols) or ("x" in cols and "y" in cols)):
            raise MappingError(f"{path}: [columns] needs lon/lat or x/y")
        dups = data.get("duplicates", {})
        if dups.get("column"):  # read like any column: checked against the header, nulls read as empty
            cols = {**cols, "_duplicate_text": dups["column"]}
        statuses = {k: v for k, v in data.get("status_map", {}).items()}
        bad = sorted(set(statuses.values()) - set(Status.values))
        if bad:
            raise MappingError(f"{path}: [status_map] maps to unknown statuses {bad}; ours are {Status.values}")
        return cls(
            path=path,
            name=src.get("name", path.stem),
            file=(path.parent / src.get("file", "")).resolve(),
            tz=ZoneInfo(src.get("time_zone", "UTC")),
            date_formats=list(src.get("date_formats", ["%Y-%m-%dT%H:%M:%S"])),
            delimiter=str(src.get("delimiter", ",")),
            columns=dict(cols),
            xy_srid=data.get("coordinates", {}).get("xy_srid"),
            status_map=statuses,
            channel_map=dict(data.get("channel_map", {})),
            true_values=set(data.get("values", {}).get("true", ["True", "true", "1"])),
            information_only=set(data.get("types", {}).get("information_only", [])),
            not_dispatchable=set(data.get("types", {}).get("not_dispatchable", [])),
            null_values=frozenset(str(v) for v in data.get("values", {}).get("null", [])),
            duplicate_pattern=_pattern(path, dups, "pattern"),
            parent_pattern=_pattern(path, dups, "parent_pattern"),
        )

    def get(self, row: dict[str, str], key: str) -> str:
        col = self.columns.get(key)
        value = (row.get(col) or "").strip() if col else ""
        return "" if value in self.null_values else value


def _pattern(path: Path, section: dict[str, Any], key: str) -> re.Pattern[str] | None:
    raw = section.get(key)
    if not raw:
        return None
    try:
        return re.compile(str(raw))
    except re.error as exc:
        raise MappingError(f"{path}: [duplicates] {key} is not a regular expression ({exc}): {raw!r}") from None


def source_district(raw: str) -> int | str | None:
    """The source's own district as written: a number when it is one ("27", "27.0"), else the text ("09410",
    "District 3B" stay text: a leading zero is part of a ZIP code)."""
    raw = raw.strip()
    if not raw or raw.upper() in {"NA", "N/A", "NULL", "NONE"}:
        return None
    if raw.isdigit() and not (len(raw) > 1 and raw.startswith("0")):
        return int(raw)
    try:
        number = float(raw)
    except ValueError:
        return raw
    return int(number) if number.is_integer() else raw


def _disagrees(source: int | str | None, ours: int | None) -> bool:
    """A source district that names another district than ours; a missing one is not a disagreement."""
    if source is None or ours is None:
        return False
    return str(source) != str(ours)


@dataclass
class LoadReport:
    source: str
    batch_id: int | None = None
    unchanged: bool = False
    dry_run: bool = False
    rows_read: int = 0
    loaded: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)
    service_types_created: int = 0
    departments_created: int = 0
    parents_linked: int = 0
    parents_outside_file: int = 0
    ward_disagreements: int = 0

    def lines(self) -> list[str]:
        if self.unchanged:
            return [f"{self.source}: unchanged; import batch {self.batch_id} already holds this file."]
        head = "DRY RUN (rolled back): " if self.dry_run else ""
        out = [
            f"{head}{self.source}: read {self.rows_read} rows, loaded {self.loaded}, skipped "
            f"{len(self.bad_rows)} bad rows; {self.service_types_created} new service types, "
            f"{self.departments_created} new departments; {self.parents_linked} duplicates linked to a parent in "
            f"the file ({self.parents_outside_file} parents outside it); our ward differs from the source's on "
            f"{self.ward_disagreements} rows"
        ]
        out += [f"  line {line}: {why}" for line, why in self.bad_rows[:50]]
        if len(self.bad_rows) > 50:
            out.append(f"  … and {len(self.bad_rows) - 50} more")
        return out


class _Rollback(Exception):
    pass


def _parse_date(raw: str, m: Mapping) -> dt.datetime | None:
    if not raw:
        return None
    for fmt in m.date_formats:
        try:
            return dt.datetime.strptime(raw, fmt).replace(tzinfo=m.tz)
        except ValueError:
            continue
    raise ValueError(f"date {raw!r} matches none of {m.date_formats}")


def _point(row: dict[str, str], m: Mapping) -> Point | None:
    lon, lat = m.get(row, "lon"), m.get(row, "lat")
    if lon or lat:
        return point_from_lonlat(lon, lat)
    x, y = m.get(row, "x"), m.get(row, "y")
    if x and y:
        if not m.xy_srid:
            raise CoordinateError("x/y given but the mapping has no [coordinates] xy_srid")
        return point_from_projected(float(x), float(y), int(m.xy_srid))
    return None


def type_code(name: str, short: str) -> str:
    return slugify(short or name)[:80] or "unknown"


def load_311(mapping_path: Path, *, dry_run: bool = False, progress: Progress | None = None) -> LoadReport:
    m = Mapping.read(mapping_path)
    if not m.file.exists():
        raise MappingError(f"{mapping_path}: source file {m.file} does not exist")
    checksum = hashlib.sha256(m.file.read_bytes()).hexdigest()
    report = LoadReport(source=m.name, dry_run=dry_run)
    existing = ImportBatch.objects.filter(kind="history", checksum=checksum).first()
    if existing:
        report.unchanged, report.batch_id = True, existing.pk
        return report

    parsed: list[dict[str, Any]] = []
    with m.file.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter=m.delimiter)
        missing = [c for c in m.columns.values() if reader.fieldnames and c not in reader.fieldnames]
        if missing:
            raise MappingError(f"{m.file.name}: columns {missing} named in the mapping are not in the file")
        for line, row in enumerate(reader, start=2):
            report.rows_read += 1
            name = m.get(row, "type_name")
            if not name:
                report.bad_rows.append((line, "no service type"))
                continue
            try:
                created = _parse_date(m.get(row, "created"), m)
                closed = _parse_date(m.get(row, "closed"), m)
            except ValueError as exc:
                report.bad_rows.append((line, str(exc)))
                continue
            if created is None:
                report.bad_rows.append((line, "no created date"))
                continue
            try:
                point = _point(row, m)
            except (CoordinateError, ValueError) as exc:
                report.bad_rows.append((line, f"bad coordinate: {exc}"))
                continue
            if point is None and name not in m.information_only:
                report.bad_rows.append((line, f"no coordinates for {name!r}, which needs a place"))
                continue
            parsed.append(
                {"line": line, "row": row, "name": name, "created": created, "closed": closed, "point": point}
            )
            if progress and report.rows_read % 500 == 0:
                progress(report.rows_read, 0)

    # Which rows are inside the city (layers.lookup's one rule), set-based per filing date; placement
    # (ward, layer version, community area, department, due date, ticket) happens in _store.
    by_day: dict[dt.date, list[int]] = defaultdict(list)
    for i, p in enumerate(parsed):
        if p["point"] is not None:
            by_day[p["created"].date()].append(i)
    for day, idx in by_day.items():
        for i, w in zip(idx, numbers_at(LayerKind.WARDS, [parsed[i]["point"] for i in idx], day), strict=True):
            parsed[i]["ward"] = w
    good = []
    for p in parsed:
        if p["point"] is not None and p.get("ward") is None:
            report.bad_rows.append((p["line"], "coordinate outside the city (no ward holds it)"))
        else:
            good.append(p)
    report.bad_rows.sort()

    try:
        with transaction.atomic():
            _store(m, good, checksum, report)
            if dry_run:
                raise _Rollback
    except _Rollback:
        report.batch_id = None
        return report
    refresh_statistics(ServiceRequest)  # the dedup and map lookups plan on fresh row counts
    return report


def _store(m: Mapping, good: list[dict[str, Any]], checksum: str, report: LoadReport) -> None:
    """The good rows as one recorded batch: placed like any request (gis_app.placement), then duplicate links
    and an audit event each."""
    batch = ImportBatch.objects.create(kind="history", source=m.name, file_name=m.file.name, checksum=checksum)
    kinds = _Kinds(m, report)
    rows = [_request(m, p, kinds.type_for(p), batch) for p in good]
    place_requests(rows)
    for r, p in zip(rows, good, strict=True):  # each row's own department, not its type's first row's
        own = kinds.department_of(p)
        if own is not None:
            r.department = own
    report.ward_disagreements = sum(
        1 for r in rows if r.location is not None and _disagrees(r.source_data["ward"], r.ward_number)
    )
    ServiceRequest.objects.bulk_create(rows, batch_size=2000)
    _link_parents(rows, report)
    RequestEvent.objects.bulk_create(
        [
            RequestEvent(
                request=r,
                verb="imported",
                actor_label="import",
                at=r.requested_at,
                new={"status": r.status, "external_id": r.external_id},
                note=f"from {m.name}",
            )
            for r in rows
        ],
        batch_size=2000,
    )
    report.loaded = len(rows)
    report.batch_id = batch.pk
    batch.counts = {
        "rows_read": report.rows_read,
        "loaded": report.loaded,
        "bad_rows": len(report.bad_rows),
        "parents_linked": report.parents_linked,
        "ward_disagreements": report.ward_disagreements,
    }
    batch.bad_rows = [list(b) for b in report.bad_rows]
    batch.save(update_fields=["counts", "bad_rows"])


class _Kinds:
    """Departments and service types named by the export, created the first time a row names them."""

    def __init__(self, m: Mapping, report: LoadReport) -> None:
        self.m, self.report = m, report
        self.departments: dict[str, Department] = {d.name: d for d in Department.objects.all()}
        self.types: dict[str, ServiceType] = {t.code: t for t in ServiceType.objects.all()}

    def department_of(self, p: dict[str, Any]) -> Department | None:
        """The department the row names (created the first time), None when it names none."""
        name = self.m.get(p["row"], "department")
        if not name:
            return None
        if name not in self.departments:
            self.departments[name] = Department.objects.create(code=slugify(name)[:60] or "unassigned", name=name)
            self.report.departments_created += 1
        return self.departments[name]

    def type_for(self, p: dict[str, Any]) -> ServiceType:
        m, row = self.m, p["row"]
        code = type_code(p["name"], m.get(row, "type_code"))
        if code not in self.types:
            department = self.department_of(p) or self._unassigned()
            self.types[code] = ServiceType.objects.create(
                code=code,
                name=p["name"],
                department=department,
                location_required=p["name"] not in m.information_only,
                crew_work=p["name"] not in m.not_dispatchable and p["name"] not in m.information_only,
                group="Information" if p["name"] in m.information_only else "",
            )
            self.report.service_types_created += 1
        return self.types[code]

    def _unassigned(self) -> Department:
        if "Unassigned" not in self.departments:
            self.departments["Unassigned"] = Department.objects.create(code="unassigned", name="Unassigned")
            self.report.departments_created += 1
        return self.departments["Unassigned"]


def _request(m: Mapping, p: dict[str, Any], stype: ServiceType, batch: ImportBatch) -> ServiceRequest:
    """One row as an unsaved request with the source's own facts (status, dates, its ward in source_data)."""
    row = p["row"]
    status = m.status_map.get(m.get(row, "status"), Status.OPEN)
    duplicate, parent_id = m.duplicate_of(row)
    return ServiceRequest(
        service_type=stype,
        status=status,
        location=p["point"],
        address=m.get(row, "address")[:300],
        located_by=LocatedBy.ADDRESS if p["point"] else LocatedBy.NONE,
        channel=m.channel_map.get(m.get(row, "channel"), m.channel_map.get("default", Channel.IMPORT)),
        notify_via=NotifyVia.NONE,
        requested_at=p["created"],
        closed_at=p["closed"] if status in CLOSING else None,
        external_id=m.get(row, "id")[:100],
        import_batch=batch,
        source_data={
            "line": p["line"],
            "ward": source_district(m.get(row, "ward")),
            "status": m.get(row, "status"),
            "duplicate": duplicate,
            "parent_id": parent_id,
            "dispatchable": p["name"] not in m.not_dispatchable,
        },
    )


def _link_parents(rows: list[ServiceRequest], report: LoadReport) -> None:
    """Duplicate links: to the parent's root when the parent is in the file."""
    by_external = {r.external_id: r for r in rows}
    linked = []
    for r in rows:
        parent_id = r.source_data.get("parent_id")
        if not r.source_data.get("duplicate") or not parent_id:
            continue
        parent = by_external.get(parent_id)
        if parent is None or parent.pk == r.pk:
            report.parents_outside_file += 1
            continue
        while parent.parent_id and parent.parent is not None and parent.parent.pk != r.pk:
            parent = parent.parent
        r.parent = parent
        linked.append(r)
    ServiceRequest.objects.bulk_update(linked, ["parent"], batch_size=2000)
    report.parents_linked = len(linked)
