"""Boundary importers: one file in, one recorded `LayerVersion` out, in one transaction.

Importable functions that return reports (no argparse, no print); the management commands are thin
wrappers. The same code loads Chicago's wards and another city's council districts: the property
names that hold the number and the name are parameters, and GDAL reads GeoJSON, Shapefile and
GeoPackage alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.gis.gdal import DataSource, GDALException
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.db import connection, transaction
from django.db.models import Model

from layers.coords import ogr_to_wgs84
from layers.manifests import read_toml
from layers.models import (
    CommunityArea,
    CommunityAreaPart,
    LayerChange,
    LayerKind,
    LayerVersion,
    Ward,
    WardPart,
)

Progress = Callable[[int, int], None]

# How many vertices a subdivided part may have. 256 is ST_Subdivide's default and MapIt's choice.
SUBDIVIDE_MAX_VERTICES = 256

AreaModel = type[Ward] | type[CommunityArea]
PartModel = type[WardPart] | type[CommunityAreaPart]

BOUNDARY_MODELS: dict[str, tuple[AreaModel, PartModel, str]] = {
    LayerKind.WARDS: (Ward, WardPart, "ward_id"),
    LayerKind.COMMUNITY_AREAS: (CommunityArea, CommunityAreaPart, "area_id"),
}


def area_sizes(version: LayerVersion) -> dict[str, float]:
    """Each area's size on the ground in km² ({number: km²}), kept in the version's report at import: reports
    divide by it on every request, and a geodesic area of 50 detailed wards costs PostgreSQL about 60 ms."""
    model = BOUNDARY_MODELS[version.kind][0]
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT number, ST_Area(geom::geography) / 1e6 FROM {model._meta.db_table} WHERE layer_version_id = %s",
            [version.pk],
        )
        return {str(number): round(float(km2), 4) for number, km2 in cur.fetchall()}


class LayerImportError(ValueError):
    """The file cannot be loaded as asked; the message names the problem. Nothing was written."""


class LayerActivationError(ValueError):
    """An activation, retirement or rollback that cannot be done as asked."""


@dataclass
class BoundaryImportSpec:
    """What to load and how to read it."""

    path: Path
    kind: str
    name: str
    number_field: str
    name_field: str | None = None
    source: str = ""
    licence: str = ""
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    layer_index: int = 0
    activate: bool = False


@dataclass
class ImportReport:
    kind: str
    name: str
    checksum: str
    version_id: int | None = None
    unchanged: bool = False
    dry_run: bool = False
    features_read: int = 0
    boundaries_written: int = 0
    parts_written: int = 0
    repaired: list[dict[str, object]] = field(default_factory=list)
    merged: list[dict[str, int]] = field(default_factory=list)
    activation: ActivationReport | None = None

    def lines(self) -> list[str]:
        if self.unchanged:
            return [
                f"{self.name}: unchanged; layer version {self.version_id} already holds this file "
                f"(sha256 {self.checksum[:12]}…). Nothing written."
            ]
        head = "DRY RUN (rolled back, nothing written): " if self.dry_run else ""
        out = [
            f"{head}{self.name}: read {self.features_read} features, wrote {self.boundaries_written} "
            f"{self.kind} and {self.parts_written} subdivided parts"
            + ("" if self.dry_run else f" as layer version {self.version_id}")
        ]
        for m in self.merged:
            out.append(f"  merged {m['features']} features into number {m['number']}")
        for r in self.repaired:
            out.append(f"  repaired number {r['number']}: {r['reason']}")
        if self.activation:
            out.extend("  " + line for line in self.activation.lines())
        return out


@dataclass
class ActivationReport:
    action: str
    version_id: int
    changed: dict[int, tuple[bool, bool]]  # version id -> (before, after)
    change_id: int | None = None

    def lines(self) -> list[str]:
        parts = [f"{self.action}: layer version {self.version_id}"]
        for vid, (before, after) in sorted(self.changed.items()):
            if vid != self.version_id:
                parts.append(
                    f"  version {vid}: {'active' if before else 'inactive'} -> {'active' if after else 'inactive'}"
                )
        return parts


class _DryRunRollback(Exception):
    pass


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _as_multipolygon(geom: GEOSGeometry, where: str) -> MultiPolygon:
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon(geom, srid=geom.srid)
    raise LayerImportError(f"{where}: expected a Polygon or MultiPolygon, got {geom.geom_type}")


def _read_features(spec: BoundaryImportSpec, progress: Progress | None) -> tuple[int, dict[str, list[Any]]]:
    """Read the file into {identifier as written: [(name, MultiPolygon), ...]}; raise on anything unusable."""
    try:
        source = DataSource(str(spec.path))
    except GDALException as exc:
        raise LayerImportError(
            f"{spec.path.name}: could not read it as a vector file (GeoJSON, Shapefile or GeoPackage): {exc}"
        ) from None
    if spec.layer_index >= source.layer_count:
        raise LayerImportError(
            f"{spec.path.name}: has {source.layer_count} layer(s); layer index {spec.layer_index} does not exist"
        )
    layer = source[spec.layer_index]
    total = len(layer)
    if total == 0:
        raise LayerImportError(f"{spec.path.name}: the file has no features; expected {spec.kind} polygons")
    fields = list(layer.fields)
    for wanted, label in ((spec.number_field, "number"), (spec.name_field, "name")):
        if wanted and wanted not in fields:
            raise LayerImportError(
                f"{spec.path.name}: the {label} property '{wanted}' is not in the file; "
                f"properties found: {', '.join(fields) or '(none)'}"
            )
    srs = layer.srs
    grouped: dict[str, list[tuple[str, MultiPolygon]]] = defaultdict(list)
    for i, feature in enumerate(layer):
        where = f"{spec.path.name} feature {i + 1}"
        raw_number = feature.get(spec.number_field)
        number = " ".join(str(raw_number if raw_number is not None else "").split())
        if not number or len(number) > 60:
            raise LayerImportError(
                f"{where}: '{spec.number_field}' must name the area (a number or a code such as 'District 3B', "
                f"at most 60 characters); got {raw_number!r}"
            )
        try:
            ogr = feature.geom
        except GDALException:
            ogr = None
        if ogr is None:
            raise LayerImportError(f"{where} ({number}): has no geometry")
        geom = _as_multipolygon(ogr_to_wgs84(ogr, srs), where)
        if geom.empty:
            raise LayerImportError(f"{where} ({number}): the geometry is empty")
        name = str(feature.get(spec.name_field)).strip() if spec.name_field else ""
        grouped[number].append((name, geom))
        if progress:
            progress(i + 1, total)
    return total, grouped


def _natural(code: str) -> list[Any]:
    """'District 10' after 'District 9'; '3A' before '3B'."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p.casefold()) for p in re.split(r"(\d+)", code) if p]


def area_numbers(codes: Iterable[str]) -> dict[str, int]:
    """The number each identifier is kept under, the identifier itself being kept as written: plain whole
    numbers are themselves ('09410' is 9410); identifiers that each hold one number, all different, are
    that number ('Ward 8' is 8); anything else is its place in natural order ('District 3A' 1, '3B' 2)."""
    unique = sorted(set(codes), key=_natural)
    if all(c.isdigit() for c in unique) and len({int(c) for c in unique}) == len(unique):
        return {c: int(c) for c in unique}
    held = {c: re.findall(r"\d+", c) for c in unique}
    if all(len(h) == 1 for h in held.values()) and len({int(h[0]) for h in held.values()}) == len(unique):
        return {c: int(h[0]) for c, h in held.items()}
    return {c: i for i, c in enumerate(unique, start=1)}


def import_boundaries(
    spec: BoundaryImportSpec, *, dry_run: bool = False, progress: Progress | None = None
) -> ImportReport:
    """Load one boundary file as a new layer version.

    Re-importing a file already loaded for this kind is a no-op that says so. Invalid rings are
    repaired in PostGIS with ST_MakeValid and reported; features sharing a number are merged with
    ST_UnaryUnion and reported. With `dry_run` the whole load runs and is rolled back.
    """
    if spec.kind not in BOUNDARY_MODELS:
        raise LayerImportError(f"unknown layer kind {spec.kind!r}; expected one of {', '.join(BOUNDARY_MODELS)}")
    if spec.effective_from and spec.effective_to and spec.effective_to <= spec.effective_from:
        raise LayerImportError(
            f"effective_to ({spec.effective_to}) must be after effective_from ({spec.effective_from})"
        )
    if not spec.path.exists():
        raise LayerImportError(f"{spec.path}: no such file")
    checksum = file_checksum(spec.path)
    report = ImportReport(kind=spec.kind, name=spec.name, checksum=checksum, dry_run=dry_run)
    existing = LayerVersion.objects.filter(kind=spec.kind, checksum=checksum).first()
    if existing is not None:
        report.unchanged = True
        report.version_id = existing.pk
        return report

    total, grouped = _read_features(spec, progress)
    report.features_read = total
    area_model, part_model, part_fk = BOUNDARY_MODELS[spec.kind]
    try:
        with transaction.atomic():
            version = LayerVersion.objects.create(
                kind=spec.kind,
                name=spec.name,
                source=spec.source,
                licence=spec.licence,
                file_name=spec.path.name,
                checksum=checksum,
                effective_from=spec.effective_from,
                effective_to=spec.effective_to,
            )
            rows = []
            numbers = area_numbers(grouped)
            for code, items in sorted(grouped.items(), key=lambda kv: numbers[kv[0]]):
                number = numbers[code]
                polys = [poly for _, g in items for poly in g]
                geom = MultiPolygon(*polys, srid=4326)
                default_name = f"{area_model._meta.verbose_name} {code}".capitalize()
                name = next((n for n, _ in items if n), default_name)
                if len(items) > 1:
                    report.merged.append({"number": number, "features": len(items)})
                rows.append(area_model(layer_version=version, number=number, code=code, name=name, geom=geom))
            area_model.objects.bulk_create(rows)  # type: ignore[arg-type]  # rows are all of area_model
            report.repaired = _repair_geometries(area_model, version.pk, {m["number"] for m in report.merged})
            report.parts_written = _subdivide(area_model, part_model, part_fk, version.pk)
            report.boundaries_written = len(rows)
            version.feature_count = len(rows)
            version.counts = {
                "features_read": total,
                "boundaries": len(rows),
                "parts": report.parts_written,
                "repaired": len(report.repaired),
                "merged": len(report.merged),
            }
            version.report = {"repaired": report.repaired, "merged": report.merged, "areas_km2": area_sizes(version)}
            version.save(update_fields=["feature_count", "counts", "report"])
            report.version_id = version.pk
            if spec.activate:
                report.activation = activate(version, note="activated on import")
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        report.version_id = None
        return report
    refresh_statistics(area_model, part_model)
    return report


def refresh_statistics(*models: type[Model]) -> None:
    """ANALYZE the tables a load just filled. Until autovacuum gets to them the planner believes a new layer
    version has a dozen rows, and a KNN lookup (`ORDER BY geom <-> point LIMIT 1`) then sorts all 24,000
    corners through the version's btree instead of walking the GiST index: 20 ms a lookup instead of 0.1."""
    with connection.cursor() as cur:
        for model in models:
            cur.execute(f"ANALYZE {model._meta.db_table}")


def _repair_geometries(area_model: AreaModel, version_id: int, merged: set[int]) -> list[dict[str, object]]:
    """ST_MakeValid what is invalid (recording why), union what was merged, refuse what ends up empty."""
    table = area_model._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT number, ST_IsValidReason(geom) FROM {table} "
            "WHERE layer_version_id = %s AND NOT ST_IsValid(geom) ORDER BY number",
            [version_id],
        )
        repaired = [{"number": n, "reason": reason} for n, reason in cur.fetchall()]
        fix = [r["number"] for r in repaired] + sorted(merged)
        if fix:
            cur.execute(
                f"UPDATE {table} SET geom = ST_Multi(ST_CollectionExtract("
                "ST_UnaryUnion(ST_MakeValid(geom)), 3)) "
                "WHERE layer_version_id = %s AND number = ANY(%s)",
                [version_id, fix],
            )
            cur.execute(
                f"SELECT number FROM {table} WHERE layer_version_id = %s AND number = ANY(%s) "
                "AND (ST_IsEmpty(geom) OR NOT ST_IsValid(geom))",
                [version_id, fix],
            )
            broken = [row[0] for row in cur.fetchall()]
            if broken:
                raise LayerImportError(
                    f"number(s) {', '.join(map(str, broken))}: the geometry could not be repaired into a valid polygon"
                )
    return repaired


def _subdivide(area_model: AreaModel, part_model: PartModel, part_fk: str, version_id: int) -> int:
    area_table = area_model._meta.db_table
    part_table = part_model._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {part_table} ({part_fk}, layer_version_id, geom) "
            f"SELECT id, layer_version_id, d.geom FROM {area_table}, "
            f"LATERAL ST_Subdivide(geom, %s) AS d(geom) "
            f"WHERE layer_version_id = %s AND GeometryType(d.geom) = 'POLYGON'",
            [SUBDIVIDE_MAX_VERTICES, version_id],
        )
        return cur.rowcount


# ---- activation: its own reversible step -------------------------------------------------------


def _lock_kind(kind: str) -> list[LayerVersion]:
    return list(LayerVersion.objects.select_for_update().filter(kind=kind).order_by("id"))


@transaction.atomic
def activate(
    version: LayerVersion, *, replace_overlapping: bool = True, note: str = "", exclusive: bool = True
) -> ActivationReport:
    """Make `version` answer lookups for its effective range.

    Active versions of the same kind whose effective ranges overlap it are retired in the same step
    (or, with replace_overlapping=False, the activation is refused), so for any date exactly one map
    is in force; `exclusive=False` activates beside the others (street networks of different extents).
    The change is logged and `rollback_last` undoes it.
    """
    versions = _lock_kind(version.kind)
    version.refresh_from_db()
    if not exclusive:  # layers that sit side by side (street networks of different extents)
        before = {v.pk: v.active for v in versions}
        LayerVersion.objects.filter(pk=version.pk).update(active=True)
        return _log_change(version, LayerChange.Action.ACTIVATE, before, note)
    overlapping = [
        v
        for v in LayerVersion.objects.filter(kind=version.kind, active=True)
        .exclude(pk=version.pk)
        .overlapping(version.effective_from, version.effective_to)
    ]
    if overlapping and not replace_overlapping:
        names = ", ".join(f"{v.pk} ({v.effective_label})" for v in overlapping)
        raise LayerActivationError(
            f"layer version {version.pk} overlaps active version(s) {names}; retire them first "
            "or activate with replace_overlapping"
        )
    before = {v.pk: v.active for v in versions}
    LayerVersion.objects.filter(pk__in=[v.pk for v in overlapping]).update(active=False)
    LayerVersion.objects.filter(pk=version.pk).update(active=True)
    return _log_change(version, LayerChange.Action.ACTIVATE, before, note)


@transaction.atomic
def retire(version: LayerVersion, *, note: str = "") -> ActivationReport:
    """Stop `version` answering lookups (its rows stay, for history and rollback)."""
    versions = _lock_kind(version.kind)
    before = {v.pk: v.active for v in versions}
    LayerVersion.objects.filter(pk=version.pk).update(active=False)
    return _log_change(version, LayerChange.Action.RETIRE, before, note)


def _log_change(version: LayerVersion, action: str, before: dict[int, bool], note: str) -> ActivationReport:
    after = dict(LayerVersion.objects.filter(kind=version.kind).values_list("pk", "active"))
    change = LayerChange.objects.create(
        kind=version.kind, action=action, version=version, before={str(k): v for k, v in before.items()}, note=note
    )
    version.refresh_from_db()
    changed = {pk: (before.get(pk, False), now) for pk, now in after.items() if before.get(pk, False) != now}
    changed.setdefault(version.pk, (before.get(version.pk, False), after.get(version.pk, False)))
    return ActivationReport(action=action, version_id=version.pk, changed=changed, change_id=change.pk)


@transaction.atomic
def rollback_last(kind: str, *, note: str = "") -> ActivationReport:
    """Undo the most recent activation or retirement of this kind that has not been undone yet."""
    _lock_kind(kind)
    change = (
        LayerChange.objects.filter(kind=kind, rolled_back=False)
        .exclude(action=LayerChange.Action.ROLLBACK)
        .order_by("-at", "-id")
        .first()
    )
    if change is None:
        raise LayerActivationError(f"there is no activation or retirement of {kind} left to roll back")
    before_now = dict(LayerVersion.objects.filter(kind=kind).values_list("pk", "active"))
    for pk, was_active in change.before.items():
        LayerVersion.objects.filter(pk=int(pk)).update(active=was_active)
    # A version created after that change did not exist then: it goes back to inactive.
    LayerVersion.objects.filter(kind=kind).exclude(pk__in=[int(pk) for pk in change.before]).update(active=False)
    change.rolled_back = True
    change.save(update_fields=["rolled_back"])
    report = _log_change(
        change.version, LayerChange.Action.ROLLBACK, before_now, note or f"rolled back change {change.pk}"
    )
    return report


# ---- a city's manifest: which files make its layers, with which dates ---------------------------


def read_manifest(path: Path) -> list[BoundaryImportSpec]:
    """Parse a TOML layer manifest (see fixtures/chicago/layers.toml) into import specs.

    Paths in the manifest are relative to the manifest's folder.
    """
    data = read_toml(path, LayerImportError)
    specs = []
    for i, entry in enumerate(data.get("layers", []), start=1):
        missing = [k for k in ("kind", "name", "file", "number_field") if k not in entry]
        if missing:
            raise LayerImportError(f"{path} layer {i}: missing {', '.join(missing)}")
        specs.append(
            BoundaryImportSpec(
                path=(path.parent / entry["file"]).resolve(),
                kind=entry["kind"],
                name=entry["name"],
                number_field=entry["number_field"],
                name_field=entry.get("name_field"),
                source=entry.get("source", ""),
                licence=entry.get("licence", ""),
                effective_from=entry.get("effective_from"),
                effective_to=entry.get("effective_to"),
                activate=bool(entry.get("activate", True)),
            )
        )
    if not specs:
        raise LayerImportError(f"{path}: the manifest lists no [[layers]]")
    return specs


def load_manifest(
    path: Path, *, dry_run: bool = False, progress_for: Callable[[BoundaryImportSpec], Progress | None] | None = None
) -> list[ImportReport]:
    """Import every layer the manifest lists; unchanged files are no-ops. All or nothing."""
    specs = read_manifest(path)
    reports = []
    try:
        with transaction.atomic():
            for spec in specs:
                reports.append(import_boundaries(spec, progress=progress_for(spec) if progress_for else None))
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        for r in reports:
            if not r.unchanged:
                r.dry_run = True
                r.version_id = None
    return reports
