"""Street networks as recorded layers: import (OSM or derived), reload, and choose which one answers.

The graph-building code is Django-free (routing.network); this module records each network as a
`LayerVersion` of kind "streets" (source, licence, counts, checksum, bounding box, whether it is
approximate) with its nodes and edges in PostGIS, in one transaction, and turns it back into a
`StreetGraph`. `street_graph_for(points)` picks the network that covers the points: an exact network
(OSM) whose extent holds them all, else the approximate citywide one. The graph says which it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from django.contrib.gis.geos import LineString, Point
from django.db import connection, transaction

from layers.importing import activate, file_checksum, refresh_statistics, retire
from layers.models import LayerKind, LayerVersion, StreetCorner, StreetEdge, StreetNode
from routing.network import (
    NetworkConfig,
    NetworkError,
    StreetGraph,
    StreetNetworkSpec,
    build_graph,
    read_intersections,
    read_streets_manifest,
)


@dataclass
class StreetImportReport:
    name: str
    version_id: int | None
    unchanged: bool
    counts: dict[str, Any]

    def lines(self) -> list[str]:
        if self.unchanged:
            return [f"{self.name}: unchanged; layer version {self.version_id} already holds it. Nothing written."]
        return [
            f"{self.name}: {self.counts.get('nodes')} nodes, {self.counts.get('edges')} edges as layer "
            f"version {self.version_id} ({json.dumps(self.counts)})"
        ]


# Bumped whenever the way a file becomes a graph changes (2: nodes where a street's name changes are kept), so
# loading the same file again builds the new graph instead of answering "already loaded".
GRAPH_BUILD = 2


def import_street_network(
    spec: StreetNetworkSpec, config: NetworkConfig, *, progress: Callable[[int, int], None] | None = None
) -> StreetImportReport:
    """Build and record one network (no-op when the same file and settings were loaded before)."""
    if not spec.path.exists():
        raise NetworkError(f"{spec.path}: no such file")
    checksum = hashlib.sha256(
        (
            file_checksum(spec.path)
            + json.dumps(asdict(config), default=sorted, sort_keys=True)
            + spec.kind
            + f"build {GRAPH_BUILD}"
        ).encode()
    ).hexdigest()
    existing = LayerVersion.objects.filter(kind=LayerKind.STREETS, checksum=checksum).first()
    if existing is not None:
        if spec.kind == "derived" and not existing.street_corners.exists():
            with transaction.atomic():  # recorded before corners were kept: add them to the same version
                _save_corners(existing, spec)
        return StreetImportReport(spec.name, existing.pk, True, existing.counts)
    graph, counts = build_graph(spec, config)
    bbox = list(graph.bbox)
    counts.update({"nodes": graph.node_count, "edges": graph.edge_count})
    with transaction.atomic():
        version = LayerVersion.objects.create(
            kind=LayerKind.STREETS,
            name=spec.name,
            source=spec.source,
            licence=spec.licence,
            file_name=spec.path.name,
            checksum=checksum,
            feature_count=graph.edge_count,
            counts=counts,
            report={
                "source_kind": graph.source_kind,
                "approximate": graph.approximate,
                "attribution": graph.attribution,
                "bbox": bbox,
            },
        )
        StreetNode.objects.bulk_create(
            [
                StreetNode(layer_version=version, node_id=int(nid), geom=Point(float(x), float(y), srid=4326))
                for nid, x, y in zip(graph.node_ids, graph.lon, graph.lat, strict=True)
            ],
            batch_size=5000,
        )
        batch: list[StreetEdge] = []
        for e in range(graph.edge_count):
            batch.append(
                StreetEdge(
                    layer_version=version,
                    u=int(graph.node_ids[graph.edge_u[e]]),
                    v=int(graph.node_ids[graph.edge_v[e]]),
                    metres=float(graph.edge_metres[e]),
                    seconds=float(graph.edge_seconds[e]),
                    name=graph.edge_name[e][:300],
                    street_class=graph.edge_class[e][:100],
                    geom=LineString(graph.edge_geometry[e], srid=4326),
                )
            )
            if len(batch) >= 5000:
                StreetEdge.objects.bulk_create(batch)
                batch = []
                if progress:
                    progress(e + 1, graph.edge_count)
        StreetEdge.objects.bulk_create(batch)
        if spec.kind == "derived":
            _save_corners(version, spec)
        # A new version of the same network replaces the old one; other networks stay beside it.
        same_name = LayerVersion.objects.of_kind(LayerKind.STREETS).active().filter(name=spec.name)
        for old in same_name.exclude(pk=version.pk):
            retire(old, note=f"replaced by version {version.pk}")
        activate(version, exclusive=False, note="street network import")
    refresh_statistics(StreetNode, StreetEdge, StreetCorner)
    return StreetImportReport(spec.name, version.pk, False, counts)


def _save_corners(version: LayerVersion, spec: StreetNetworkSpec) -> None:
    """Every named intersection of the source, for geocoding (the graph keeps only what routing can use)."""
    StreetCorner.objects.bulk_create(
        [
            StreetCorner(
                layer_version=version,
                street_1=r.street_1[:200],
                street_2=r.street_2[:200],
                zipcode=r.zipcode,
                geom=Point(r.lon, r.lat, srid=4326),
            )
            for r in read_intersections(spec.path, spec.columns)
        ],
        batch_size=5000,
    )


def load_streets_manifest(path: Path) -> list[StreetImportReport]:
    config, specs = read_streets_manifest(path)
    return [import_street_network(spec, config) for spec in specs]


_GRAPHS: dict[int, StreetGraph] = {}


def graph_from_version(version: LayerVersion) -> StreetGraph:
    """Rebuild the in-memory graph of a recorded network (kept per process: versions never change)."""
    if version.pk in _GRAPHS:
        return _GRAPHS[version.pk]
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT node_id, ST_X(geom), ST_Y(geom) FROM {StreetNode._meta.db_table} "
            "WHERE layer_version_id = %s ORDER BY node_id",
            [version.pk],
        )
        nodes = [(int(a), float(b), float(c)) for a, b, c in cur.fetchall()]
        cur.execute(
            f"SELECT u, v, metres, seconds, name, street_class, ST_AsBinary(geom) "
            f"FROM {StreetEdge._meta.db_table} WHERE layer_version_id = %s ORDER BY id",
            [version.pk],
        )
        rows = cur.fetchall()
    lines = shapely.from_wkb([bytes(r[6]) for r in rows])
    edges = [
        {
            "u": r[0],
            "v": r[1],
            "metres": r[2],
            "seconds": r[3],
            "name": r[4],
            "class": r[5],
            "geometry": [tuple(c) for c in shapely.get_coordinates(line).tolist()],
        }
        for r, line in zip(rows, lines, strict=True)
    ]
    report = version.report or {}
    graph = StreetGraph.from_edges(
        nodes,
        edges,
        source_kind=report.get("source_kind", "osm"),
        name=version.name,
        approximate=bool(report.get("approximate")),
        attribution=report.get("attribution", ""),
    )
    graph.version = f"lv{version.pk}-{version.checksum[:12]}"
    _GRAPHS[version.pk] = graph
    return graph


def street_graph_for(points: Sequence[tuple[float, float]]) -> StreetGraph:
    """The network that should answer for these (lon, lat) points: the smallest exact network whose extent
    holds them all, else the approximate citywide one, else (part of a city) the one holding most of them."""
    versions = list(LayerVersion.objects.of_kind(LayerKind.STREETS).active())
    if not versions:
        raise NetworkError("no street network is loaded: run `manage.py load_streets`")
    pts = np.array(points, dtype=float).reshape(-1, 2)

    inside = {v.pk: inside_count(v, pts) for v in versions}

    def covers(v: LayerVersion) -> bool:
        return bool(len(pts)) and inside[v.pk] == len(pts)

    def area(v: LayerVersion) -> float:
        x0, y0, x1, y1 = (v.report or {}).get("bbox", [0, 0, 0, 0])
        return (x1 - x0) * (y1 - y0)

    exact = sorted((v for v in versions if not (v.report or {}).get("approximate") and covers(v)), key=area)
    if exact:
        return graph_from_version(exact[0])
    approximate = sorted((v for v in versions if (v.report or {}).get("approximate")), key=area, reverse=True)
    if approximate:
        return graph_from_version(approximate[0])
    # Part of a city: no network holds every point and none is citywide. The one holding most of them answers;
    # the planner holds back the jobs outside it (routing.planning.build._on_network).
    best = max(versions, key=lambda v: (inside[v.pk], -area(v)))
    if inside[best.pk] == 0:
        raise NetworkError("no loaded street network covers any of these points and no citywide network is loaded")
    return graph_from_version(best)


def inside_count(version: LayerVersion, pts: np.ndarray) -> int:
    """How many (lon, lat) rows of `pts` lie in the network's extent (its bounding box)."""
    x0, y0, x1, y1 = (version.report or {}).get("bbox", [0, 0, 0, 0])
    return int(((pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)).sum())
