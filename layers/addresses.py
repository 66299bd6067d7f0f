"""Address-point layers: OpenAddresses-style CSV and OSM addr:* tags, each load a recorded LayerVersion.

One transaction per load, a no-op on an unchanged file, --dry-run, bad rows counted (not half-loaded).
Street names are normalised exactly as geocoding normalises its input (layers.normalize), so a point
is found by the same key a caller's address produces.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.contrib.gis.geos import Point
from django.db import transaction

from layers.importing import activate, file_checksum, refresh_statistics, retire
from layers.manifests import read_toml
from layers.models import AddressPoint, LayerKind, LayerVersion
from layers.normalize import normalise_street
from layers.osmfiles import open_xml, osm_xml


class AddressImportError(ValueError):
    pass


@dataclass
class AddressImportReport:
    name: str
    version_id: int | None
    unchanged: bool = False
    loaded: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    interpolated: int = 0  # of `loaded`, the points addr:interpolation ways stand for
    what: str = "address points"

    def lines(self) -> list[str]:
        if self.unchanged:
            return [f"{self.name}: unchanged; layer version {self.version_id} already holds it. Nothing written."]
        verb = "would load" if self.dry_run else "loaded"
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items())) or "none"
        among = f", {self.interpolated} of them from addr:interpolation ways" if self.interpolated else ""
        return [f"{self.name}: {verb} {self.loaded} {self.what}{among} (version {self.version_id}); skipped: {skipped}"]


@dataclass
class Row:
    number_text: str
    street: str
    lon: float
    lat: float
    unit: str = ""
    postcode: str = ""
    interpolated: bool = False  # stands for a house an addr:interpolation way implies


def _text_lines(fh: IO[bytes], name: str) -> Iterator[str]:
    """A file's lines as UTF-8 text, one at a time, so a byte that is not UTF-8 is reported on its own line
    (a decoder reading ahead in blocks cannot say which)."""
    for number, raw in enumerate(fh, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise AddressImportError(
                f"{name} line {number}: not UTF-8 text ({exc.reason} at byte {exc.start + 1} of the line)"
            ) from None


def read_openaddresses(path: Path) -> Iterator[Row | str]:
    """LON, LAT, NUMBER, STREET, UNIT, CITY, POSTCODE (case-insensitive headers); yields a reason for a bad row."""
    with path.open("rb") as fh:
        reader = csv.DictReader(_text_lines(fh, path.name))
        try:
            header = {h.upper(): h for h in (reader.fieldnames or [])}
        except csv.Error as exc:
            raise AddressImportError(f"{path.name} line 1: not a CSV header ({exc})") from None
        missing = {"LON", "LAT", "NUMBER", "STREET"} - set(header)
        if missing:
            raise AddressImportError(
                f"{path.name}: missing column(s) {', '.join(sorted(missing))}; expected "
                "LON, LAT, NUMBER, STREET[, UNIT, CITY, POSTCODE]"
            )
        rows = iter(reader)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                raise AddressImportError(
                    f"{path.name} line {reader.line_num + 1}: not readable as CSV ({exc})"
                ) from None
            try:
                lon, lat = float(row[header["LON"]]), float(row[header["LAT"]])
            except (TypeError, ValueError):
                yield "bad coordinates"
                continue
            yield Row(
                str(row[header["NUMBER"]] or ""),
                str(row[header["STREET"]] or ""),
                lon,
                lat,
                str(row.get(header.get("UNIT", ""), "") or ""),
                str(row.get(header.get("POSTCODE", ""), "") or ""),
            )


INTERPOLATION_STEP = {"odd": 2, "even": 2, "all": 1}


def read_osm(path: Path) -> Iterator[Row | str]:
    """Nodes, ways and relations (a building drawn as a multipolygon) with addr:housenumber and addr:street,
    a way or relation at the mean of its nodes; and the numbers an `addr:interpolation` way stands for
    between its numbered nodes (OSM's way of saying "and every house in between": each gets a point along
    the way, at its share of the numbers between the two ends)."""
    nodes: dict[str, tuple[float, float]] = {}
    numbered: dict[str, tuple[int, str, str]] = {}  # node id → (number, street, postcode) of address nodes
    way_nodes: dict[str, list[str]] = {}  # every way's node refs, for relations drawn from ways
    with open_xml(path) as fh:
        for _, el in ET.iterparse(fh, events=("end",)):
            if el.tag == "node":
                nodes[el.get("id", "")] = (float(el.get("lon", "nan")), float(el.get("lat", "nan")))
            if el.tag not in ("node", "way", "relation"):
                continue
            tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
            refs = [n.get("ref", "") for n in el.findall("nd")]
            if el.tag == "way":
                way_nodes[el.get("id", "")] = refs
            if el.tag == "node" and "addr:housenumber" in tags:
                m = re.match(r"^\s*(\d+)\s*$", str(tags["addr:housenumber"]))
                if m:
                    numbered[el.get("id", "")] = (
                        int(m.group(1)),
                        str(tags.get("addr:street", "")),
                        str(tags.get("addr:postcode", "")),
                    )
            if el.tag == "way" and "addr:interpolation" in tags:
                yield from _interpolated(
                    refs, nodes, numbered, str(tags["addr:interpolation"]), str(tags.get("addr:street", ""))
                )
            elif "addr:housenumber" in tags:
                if el.tag == "relation":
                    refs = [
                        r
                        for m in el.findall("member")
                        if m.get("type") == "way"
                        for r in way_nodes.get(m.get("ref", ""), [])
                    ]
                yield _address_row(el.tag, tags, [nodes[el.get("id", "")]] if el.tag == "node" else
                                   [nodes[r] for r in refs if r in nodes])  # fmt: skip
            if el.tag != "node":
                el.clear()


def _address_row(tag: str, tags: dict[Any, Any], pts: list[tuple[float, float]]) -> Row | str:
    """One addressed node, way or relation as a Row at the mean of its points (or why it cannot be one)."""
    if "addr:street" not in tags:
        return "no addr:street"
    if not pts:
        return f"{tag} without nodes"
    return Row(
        str(tags["addr:housenumber"]),
        str(tags["addr:street"]),
        sum(p[0] for p in pts) / len(pts),
        sum(p[1] for p in pts) / len(pts),
        str(tags.get("addr:unit", "")),
        str(tags.get("addr:postcode", "")),
    )


def _interpolated(
    refs: list[str],
    nodes: dict[str, tuple[float, float]],
    numbered: dict[str, tuple[int, str, str]],
    scheme: str,
    way_street: str,
) -> Iterator[Row | str]:
    """The numbers strictly between each pair of consecutive numbered nodes of an interpolation way."""
    step = INTERPOLATION_STEP.get(scheme) or (int(scheme) if scheme.isdigit() and int(scheme) > 0 else 0)
    if not step:
        yield f"addr:interpolation={scheme[:20]} (expected odd, even, all or a step)"
        return
    line = [(r, nodes[r]) for r in refs if r in nodes]
    if len(line) < 2:
        yield "way without nodes"
        return
    # Distance along the way at each node, so numbers follow the way's bends.
    along = [0.0]
    for (_, a), (_, b) in itertools.pairwise(line):
        along.append(along[-1] + math.hypot((b[0] - a[0]) * math.cos(math.radians(a[1])), b[1] - a[1]))
    anchors = [(i, numbered[r]) for i, (r, _) in enumerate(line) if r in numbered]
    if len(anchors) < 2:
        yield "interpolation way without two numbered nodes"
        return
    for (i, (n0, street0, zip0)), (j, (n1, street1, _)) in itertools.pairwise(anchors):
        street = way_street or street0 or street1
        if not street:
            yield "no addr:street"
            continue
        if n0 == n1 or (step == 2 and n0 % 2 != n1 % 2) or abs(n1 - n0) > 2000:
            yield "interpolation ends that do not make a range"
            continue
        sign = 1 if n1 > n0 else -1
        for number in range(n0 + sign * step, n1, sign * step):
            target = along[i] + (along[j] - along[i]) * (number - n0) / (n1 - n0)
            k = next(k for k in range(i + 1, j + 1) if along[k] >= target)
            span = along[k] - along[k - 1]
            f = 0.0 if span == 0 else (target - along[k - 1]) / span
            (a, b) = (line[k - 1][1], line[k][1])
            yield Row(
                str(number), street, a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), "", zip0, interpolated=True
            )


def import_addresses(
    path: Path,
    *,
    kind: str,
    name: str,
    source: str = "",
    licence: str = "",
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> AddressImportReport:
    if not path.exists():
        raise AddressImportError(f"{path}: no such file")
    readers = {"openaddresses": read_openaddresses, "osm": read_osm}
    if kind not in readers:
        raise AddressImportError(f"format must be one of {', '.join(readers)}; got {kind!r}")

    def rows() -> Iterator[Row | str]:
        # Read only when the rows are asked for: an unchanged file is a no-op before a PBF is converted.
        with osm_xml(path) as readable:  # a PBF file as XML; any other file as it is
            yield from readers[kind](readable)

    try:
        return import_address_rows(
            rows(),
            name=name,
            checksum=file_checksum(path),
            file_name=path.name,
            source=source,
            licence=licence,
            dry_run=dry_run,
            progress=progress,
        )
    except ET.ParseError as exc:  # its message names the line and column
        raise AddressImportError(f"{path.name}: not a readable OSM XML file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise AddressImportError(f"{path.name}: not readable: {exc}") from None
    except AddressImportError:
        raise
    except ValueError as exc:  # a PBF file libosmium cannot read
        raise AddressImportError(str(exc)) from None


def import_address_rows(
    rows: Iterable[Row | str],
    *,
    name: str,
    checksum: str,
    file_name: str,
    source: str = "",
    licence: str = "",
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> AddressImportReport:
    """Rows (or a reason each bad row was skipped) from any reader, saved as one address-point layer version:
    a file's points and points learned from elsewhere (a city's located 311 history) are kept alike."""
    existing = LayerVersion.objects.filter(kind=LayerKind.ADDRESSES, checksum=checksum).first()
    if existing is not None and not dry_run:
        return AddressImportReport(name, existing.pk, unchanged=True)
    report = AddressImportReport(name, None, dry_run=dry_run)
    points: list[AddressPoint] = []
    for item in rows:
        if isinstance(item, str):
            report.skipped[item] = report.skipped.get(item, 0) + 1
            continue
        m = re.match(r"^\s*(\d+)", item.number_text)
        if not m or not item.street.strip():
            report.skipped["no house number or street"] = report.skipped.get("no house number or street", 0) + 1
            continue
        if not (-180 <= item.lon <= 180 and -90 <= item.lat <= 90):
            report.skipped["bad coordinates"] = report.skipped.get("bad coordinates", 0) + 1
            continue
        street = normalise_street(item.street)
        report.interpolated += item.interpolated
        points.append(
            AddressPoint(
                number=int(m.group(1)),
                number_text=item.number_text[:20],
                direction=street.direction,
                street=street.key[:200],
                unit=item.unit[:40],
                postcode=item.postcode[:10],
                geom=Point(item.lon, item.lat, srid=4326),
            )
        )
    report.loaded = len(points)
    _record(
        LayerKind.ADDRESSES,
        file_name,
        checksum,
        points,
        report,
        source=source,
        licence=licence,
        progress=progress,
    )
    return report


def _record(
    kind: str,
    file_name: str,
    checksum: str,
    rows: list[Any],
    report: AddressImportReport,
    *,
    source: str,
    licence: str,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Save the rows as a new active version of their layer in one transaction (rolled back for a dry run);
    the previous version of the same name is retired."""
    with transaction.atomic():
        version = LayerVersion.objects.create(
            kind=kind,
            name=report.name,
            source=source,
            licence=licence,
            file_name=file_name,
            checksum=checksum,
            feature_count=len(rows),
            counts={"loaded": len(rows), "skipped": report.skipped},
        )
        model = type(rows[0]) if rows else None
        for start in range(0, len(rows), 5000):
            part = rows[start : start + 5000]
            for row in part:
                row.layer_version = version
            if model is not None:
                model.objects.bulk_create(part)
            if progress:
                progress(min(start + 5000, len(rows)), len(rows))
        for old in LayerVersion.objects.of_kind(kind).active().filter(name=report.name):
            retire(old, note=f"replaced by version {version.pk}")
        activate(version, exclusive=False, note=f"{LayerKind(kind).label.lower()} import")
        report.version_id = version.pk
        if report.dry_run:
            transaction.set_rollback(True)
    if rows and not report.dry_run:
        refresh_statistics(type(rows[0]))


def load_address_manifest(path: Path, *, dry_run: bool = False) -> list[AddressImportReport]:
    """The [[addresses]] entries of a city's layer manifest (file, format, name, source, licence)."""
    data = read_toml(path, AddressImportError)
    reports = []
    for i, entry in enumerate(data.get("addresses", []), start=1):
        try:
            file = path.parent / entry["file"]
            kind, name = entry["format"], entry["name"]
        except KeyError as exc:
            raise AddressImportError(f"{path.name} addresses entry {i}: missing {exc.args[0]!r}") from None
        reports.append(
            import_addresses(
                file,
                kind=kind,
                name=name,
                source=entry.get("source", ""),
                licence=entry.get("licence", ""),
                dry_run=dry_run,
            )
        )
    return reports
