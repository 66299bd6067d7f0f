"""Ranged street centrelines: for each segment, the house numbers on its left and right, from any file GDAL reads.

A city's own layout is data: TIGER/Line ADDRFEAT is built in (it is national); any other is a small TOML file
naming the columns (fixtures/chicago/centreline_fields.toml for the City of Chicago's centrelines).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

from django.contrib.gis.gdal import DataSource, GDALException
from django.contrib.gis.geos import LineString

from layers.addresses import AddressImportError, AddressImportReport, _record
from layers.coords import ogr_to_wgs84
from layers.importing import file_checksum
from layers.manifests import read_toml
from layers.models import LayerKind, LayerVersion, RangedSegment
from layers.normalize import normalise_street

# The columns of a ranged-centreline file, by the keys the reader uses. TIGER/Line ADDRFEAT is national, so its
# layout is built in; a city's own layout is a small TOML file of these keys (fixtures/chicago/centreline_fields.toml).
RANGE_KEYS = (
    "left_from",
    "left_to",
    "right_from",
    "right_to",
    "pre_dir",
    "name",
    "type",
    "suf_dir",
    "left_postcode",
    "right_postcode",
)
RANGE_FIELDS = {
    "tiger": {
        "left_from": "LFROMHN",
        "left_to": "LTOHN",
        "right_from": "RFROMHN",
        "right_to": "RTOHN",
        "name": "FULLNAME",
        "left_postcode": "ZIPL",
        "right_postcode": "ZIPR",
    },
}


def range_fields(fields: str | Path | dict[str, str]) -> dict[str, str]:
    """The column of each key: a built-in layout's name ("tiger"), a TOML file of key = "COLUMN" lines, or the
    mapping itself. Unknown keys, or no left_from and name, are refused naming what was expected."""
    if isinstance(fields, str) and fields in RANGE_FIELDS:
        return RANGE_FIELDS[fields]
    if not isinstance(fields, dict):
        path = Path(fields)
        if path.suffix != ".toml" or not path.is_file():
            raise AddressImportError(
                f"fields must be {' or '.join(RANGE_FIELDS)} or a .toml file naming the columns; got {str(fields)!r}"
            )
        try:
            fields = {str(k): str(v) for k, v in read_toml(path, AddressImportError, "column file").items()}
        except UnicodeDecodeError as exc:
            raise AddressImportError(f"{path.name}: not a readable TOML file ({exc})") from None
    unknown = sorted(set(fields) - set(RANGE_KEYS))
    if unknown or not {"left_from", "name"} <= set(fields):
        raise AddressImportError(
            f"the column names need left_from and name, and only the keys {', '.join(RANGE_KEYS)}; "
            f"got {', '.join(sorted(fields)) or 'none'}"
        )
    return dict(fields)


def _int(value: object) -> int | None:
    m = re.match(r"^\s*(\d+)", str(value or ""))
    return int(m.group(1)) if m else None


def import_ranges(
    path: Path,
    *,
    fields: str | Path | dict[str, str],
    name: str,
    source: str = "",
    licence: str = "",
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> AddressImportReport:
    """Ranged centrelines from any file GDAL reads (Shapefile, GeoJSON, GeoPackage), reprojected to WGS84."""

    f = range_fields(fields)
    if not path.exists():
        raise AddressImportError(f"{path}: no such file")
    layout = json.dumps(f, sort_keys=True)
    checksum = hashlib.sha256(f"{file_checksum(path)}:{layout}".encode()).hexdigest()  # same file, other layout
    existing = LayerVersion.objects.filter(kind=LayerKind.RANGES, checksum=checksum).first()
    if existing is not None and not dry_run:
        return AddressImportReport(name, existing.pk, unchanged=True)
    try:
        layer = DataSource(str(path))[0]
    except (GDALException, IndexError) as exc:
        raise AddressImportError(f"{path.name}: not a readable vector file ({exc})") from None
    missing = [v for k, v in f.items() if k in ("left_from", "name") and v not in layer.fields]
    if missing:
        raise AddressImportError(f"{path.name}: missing field(s) {', '.join(missing)} for the layout given")
    report = AddressImportReport(name, None, dry_run=dry_run, what="ranged centreline segments")
    rows: list[RangedSegment] = []
    for feature in layer:

        def get(key: str, feature: object = feature) -> str:
            column = f.get(key)
            if not column or column not in layer.fields:
                return ""
            value = feature.get(column)  # type: ignore[attr-defined]
            return "" if value is None else str(value)  # 0 is a house number (the first on a base line)

        raw_name = " ".join(p for p in (get("pre_dir"), get("name"), get("type"), get("suf_dir")) if p)
        if not raw_name.strip():
            report.skipped["no street name"] = report.skipped.get("no street name", 0) + 1
            continue
        try:
            geom = ogr_to_wgs84(feature.geom, layer.srs)
        except (GDALException, ValueError):
            report.skipped["bad geometry"] = report.skipped.get("bad geometry", 0) + 1
            continue
        if geom.geom_type == "MultiLineString" and geom.num_geom == 1:
            geom = geom[0]
        if geom.geom_type != "LineString":
            report.skipped["not a line"] = report.skipped.get("not a line", 0) + 1
            continue
        street = normalise_street(raw_name)
        rows.append(
            RangedSegment(
                direction=street.direction,
                street=street.key[:200],
                left_from=_int(get("left_from")),
                left_to=_int(get("left_to")),
                right_from=_int(get("right_from")),
                right_to=_int(get("right_to")),
                left_postcode=get("left_postcode")[:10],
                right_postcode=get("right_postcode")[:10],
                geom=LineString(geom.coords, srid=4326),  # type: ignore[attr-defined]
            )
        )
    report.loaded = len(rows)
    _record(LayerKind.RANGES, path.name, checksum, rows, report, source=source, licence=licence, progress=progress)
    return report
