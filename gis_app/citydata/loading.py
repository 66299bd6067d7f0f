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

    @classmethod
    def read(cls, path: Path) -> Mapping:
        data = read_toml(path, MappingError, "mapping file")
        src, cols = data.get("source", {}), data.get("columns", {})
        for key in ("id", "type_name", "created"):
            if key not in cols:
                raise MappingError(f"{path}: [columns] needs '{key}'")
        if not (("lon" in cols and "lat" in cols) or ("x" in cols and "y" in cols)):
            raise MappingError(f"{path}: [columns] needs lon/lat or x/y")
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
        )

    def get(self, row: dict[str, str], key: str) -> str:
        col = self.columns.get(key)
        return (row.get(col) or "").strip() if col else ""


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
    report.ward_disagreements = sum(
        1 for r in rows if r.location is not None and r.source_data["ward"] != r.ward_number
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

    def type_for(self, p: dict[str, Any]) -> ServiceType:
        m, row = self.m, p["row"]
        dept_name = m.get(row, "department") or "Unassigned"
        if dept_name not in self.departments:
            self.departments[dept_name] = Department.objects.create(
                code=slugify(dept_name)[:60] or "unassigned", name=dept_name
            )
            self.report.departments_created += 1
        code = type_code(p["name"], m.get(row, "type_code"))
        if code not in self.types:
            self.types[code] = ServiceType.objects.create(
                code=code,
                name=p["name"],
                department=self.departments[dept_name],
                location_required=p["name"] not in m.information_only,
                group="Information" if p["name"] in m.information_only else "",
            )
            self.report.service_types_created += 1
        return self.types[code]


def _request(m: Mapping, p: dict[str, Any], stype: ServiceType, batch: ImportBatch) -> ServiceRequest:
    """One row as an unsaved request with the source's own facts (status, dates, its ward in source_data)."""
    row = p["row"]
    status = m.status_map.get(m.get(row, "status"), Status.OPEN)
    source_ward = m.get(row, "ward")
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
            "ward": int(float(source_ward)) if source_ward else None,
            "status": m.get(row, "status"),
            "duplicate": m.get(row, "duplicate") in m.true_values,
            "parent_id": m.get(row, "parent_id") or None,
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
