"""The street graph every router uses: nodes, directed edges with lengths and travel times, mid-block
snapping (unroutable points are reported, never moved).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import shapely
import shapely.ops
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from scipy.sparse import csr_matrix

DEFAULT_SNAP_METRES = 150.0


class NetworkError(ValueError):
    """A network that cannot be built or used as asked; the message says why."""


@dataclass
class NetworkConfig:
    """What a city sets (in a fixture) about its streets; defaults are generic."""

    # Highway classes a crew vehicle may use, and service=* values to leave out.
    drivable: frozenset[str] = frozenset(
        {
            "motorway",
            "trunk",
            "primary",
            "secondary",
            "tertiary",
            "unclassified",
            "residential",
            "living_street",
            "road",
            "service",
            "motorway_link",
            "trunk_link",
            "primary_link",
            "secondary_link",
            "tertiary_link",
        }
    )
    excluded_service: frozenset[str] = frozenset(
        {"parking", "parking_aisle", "driveway", "private", "emergency_access"}
    )
    # km/h by highway class where OSM has no maxspeed (osmnx imputes the rest from the mean per class).
    highway_speeds: dict[str, float] = field(default_factory=dict)
    fallback_speed_kph: float = 30.0
    # Derived graph: km/h by the last word of a street name (AVE, ST, BLVD, EXPY…).
    suffix_speeds: dict[str, float] = field(default_factory=dict)
    max_gap_metres: float = 800.0
    direction_prefixes: frozenset[str] = frozenset({"N", "S", "E", "W", "NE", "NW", "SE", "SW"})
    snap_metres: float = DEFAULT_SNAP_METRES


@dataclass(frozen=True)
class Snap:
    """Where a point joins the network: on edge `edge` at `fraction` of its length from its start."""

    point_id: str
    edge: int
    fraction: float
    distance_m: float  # from the point to the street
    twin: int | None  # the same street in the other direction, if it is two-way


@dataclass
class Unroutable:
    point_id: str
    distance_m: float | None
    reason: str


@dataclass
class StreetGraph:
    node_ids: np.ndarray  # original ids (OSM ids or derived ids), int64
    lon: np.ndarray
    lat: np.ndarray
    edge_u: np.ndarray  # node positions
    edge_v: np.ndarray
    edge_metres: np.ndarray
    edge_seconds: np.ndarray
    edge_geometry: list[list[tuple[float, float]]]  # lon/lat vertices from u to v
    edge_name: list[str]
    edge_class: list[str]
    source_kind: str  # "osm" | "derived" | "literal"
    name: str
    version: str  # a checksum: matrices are cached under it
    approximate: bool = False
    attribution: str = ""
    _projected: Any = field(default=None, repr=False)

    # ---- construction helpers -----------------------------------------------------------
    @classmethod
    def from_edges(
        cls,
        nodes: Sequence[tuple[int, float, float]],
        edges: Sequence[dict[str, Any]],
        *,
        source_kind: str,
        name: str,
        approximate: bool = False,
        attribution: str = "",
    ) -> StreetGraph:
        """nodes: (id, lon, lat); edges: dicts with u, v (ids), metres, seconds, optional geometry/name/class."""
        if not nodes or not edges:
            raise NetworkError(f"{name}: a street graph needs nodes and edges; got {len(nodes)} and {len(edges)}")
        pos = {nid: i for i, (nid, _, _) in enumerate(nodes)}
        lon = np.array([n[1] for n in nodes], dtype=float)
        lat = np.array([n[2] for n in nodes], dtype=float)
        try:
            eu = np.array([pos[e["u"]] for e in edges], dtype=np.int64)
            ev = np.array([pos[e["v"]] for e in edges], dtype=np.int64)
        except KeyError as exc:
            raise NetworkError(f"{name}: an edge refers to unknown node {exc.args[0]}") from None
        metres = np.array([float(e["metres"]) for e in edges])
        seconds = np.array([float(e["seconds"]) for e in edges])
        if (metres < 0).any() or (seconds <= 0).any():
            raise NetworkError(f"{name}: edge lengths must be ≥ 0 and travel times > 0")
        geometry = [
            list(e.get("geometry") or [(lon[pos[e["u"]]], lat[pos[e["u"]]]), (lon[pos[e["v"]]], lat[pos[e["v"]]])])
            for e in edges
        ]
        digest = hashlib.sha256()
        digest.update(np.array([n[0] for n in nodes], dtype=np.int64).tobytes())
        for arr in (lon, lat, eu, ev, metres, seconds):
            digest.update(np.ascontiguousarray(arr).tobytes())
        return cls(
            node_ids=np.array([n[0] for n in nodes], dtype=np.int64),
            lon=lon,
            lat=lat,
            edge_u=eu,
            edge_v=ev,
            edge_metres=metres,
            edge_seconds=seconds,
            edge_geometry=geometry,
            edge_name=[str(e.get("name") or "") for e in edges],
            edge_class=[str(e.get("class") or "") for e in edges],
            source_kind=source_kind,
            name=name,
            version=digest.hexdigest()[:16],
            approximate=approximate,
            attribution=attribution,
        )

    # ---- shape -------------------------------------------------------------------------
    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        """Extent of the streets themselves (simplified edges carry interior vertices); computed once, as a
        graph is not changed after it is built (the planner asks for every plan on a cached graph)."""
        pts = np.array([p for geom in self.edge_geometry for p in geom])
        return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))

    @property
    def node_count(self) -> int:
        return int(self.lon.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.edge_u.shape[0])

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source_kind": self.source_kind,
            "version": self.version,
            "approximate": self.approximate,
            "nodes": self.node_count,
            "edges": self.edge_count,
            "attribution": self.attribution,
        }

    # ---- matrices for scipy.sparse.csgraph --------------------------------------------------
    # Time and length are packed into one exact float64 weight, time first: w = tenths_of_seconds * 2^20
    # + metres. Dijkstra on w finds the fastest path (shortest among equally fast ones) and the sum
    # decodes into both its time and its length, without predecessor walks. Exact while a path's
    # length stays under 2^20 m (1,048 km) and its time under 2^32 tenths of a second.
    LENGTH_BITS = 20

    def packed_csr(self) -> csr_matrix:
        tenths = np.maximum(1, np.rint(self.edge_seconds * 10)).astype(np.int64)
        metres = np.minimum(np.rint(self.edge_metres).astype(np.int64), (1 << self.LENGTH_BITS) - 1)
        weight = (tenths << self.LENGTH_BITS) + metres
        n = self.node_count
        # Parallel edges: keep the best (csr would sum duplicates).
        order = np.lexsort((weight, self.edge_v, self.edge_u))
        u, v, w = self.edge_u[order], self.edge_v[order], weight[order]
        first = np.ones(len(u), dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        return csr_matrix((w[first].astype(np.float64), (u[first], v[first])), shape=(n, n))

    @classmethod
    def unpack(cls, packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, metres) from packed path weights (inf stays inf)."""
        finite = np.isfinite(packed)
        p = np.where(finite, packed, 0).astype(np.int64)
        seconds = np.where(finite, (p >> cls.LENGTH_BITS) / 10.0, np.inf)
        metres = np.where(finite, (p & ((1 << cls.LENGTH_BITS) - 1)).astype(float), np.inf)
        return seconds, metres

    # ---- snapping -------------------------------------------------------------------------
    def _projection(self) -> tuple[Transformer, Any, np.ndarray]:
        if self._projected is None:
            lon0, lat0 = float(np.median(self.lon)), float(np.median(self.lat))
            info = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon0, lat0, lon0, lat0))
            crs = CRS.from_epsg(int(info[0].code))
            fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
            lines = []
            for geom in self.edge_geometry:
                xs, ys = fwd.transform([p[0] for p in geom], [p[1] for p in geom])
                lines.append(shapely.LineString(list(zip(xs, ys, strict=True))))
            arr = np.array(lines, dtype=object)
            twins = self._twins()
            self._projected = (fwd, shapely.STRtree(arr), arr, twins)
        fwd, tree, arr, _ = self._projected
        return fwd, tree, arr

    def _twins(self) -> np.ndarray:
        """For each edge, the edge running the other way between the same nodes with the same geometry."""
        key: dict[tuple[int, int, tuple[Any, ...]], int] = {}
        for i, (u, v) in enumerate(zip(self.edge_u.tolist(), self.edge_v.tolist(), strict=True)):
            key.setdefault((u, v, tuple(self.edge_geometry[i][1:-1])), i)
        twins = np.full(self.edge_count, -1, dtype=np.int64)
        for i, (u, v) in enumerate(zip(self.edge_u.tolist(), self.edge_v.tolist(), strict=True)):
            j = key.get((v, u, tuple(reversed(self.edge_geometry[i][1:-1]))))
            if j is not None and j != i:
                twins[i] = j
        return twins

    def snap(
        self, points: Sequence[tuple[str, float, float]], max_metres: float = DEFAULT_SNAP_METRES
    ) -> tuple[list[Snap], list[Unroutable]]:
        """Snap (id, lon, lat) points to the nearest edge; farther than max_metres: unroutable, never moved."""
        fwd, tree, lines = self._projection()
        twins = self._projected[3]
        snaps: list[Snap] = []
        bad: list[Unroutable] = []
        if not points:
            return snaps, bad
        xs, ys = fwd.transform([p[1] for p in points], [p[2] for p in points])
        geoms = shapely.points(np.column_stack([xs, ys]))
        idx, dist = tree.query_nearest(geoms, max_distance=max_metres, return_distance=True, all_matches=False)
        found: dict[int, tuple[int, float]] = {}
        for (pi, ei), d in zip(idx.T.tolist(), dist.tolist(), strict=True):
            if pi not in found or d < found[pi][1]:
                found[pi] = (ei, d)
        for i, (pid, _, _) in enumerate(points):
            if i not in found:
                nearest = tree.query_nearest(geoms[i], return_distance=True)
                d = float(nearest[1][0]) if len(nearest[1]) else None
                bad.append(
                    Unroutable(
                        pid,
                        d,
                        f"more than {max_metres:.0f} m from any street"
                        + (f" (nearest {d:.0f} m)" if d is not None else ""),
                    )
                )
                continue
            ei, d = found[i]
            line = lines[ei]
            frac = float(line.project(geoms[i], normalized=True)) if line.length > 0 else 0.0
            twin = int(twins[ei])
            snaps.append(Snap(pid, int(ei), frac, float(d), None if twin < 0 else twin))
        return snaps, bad

    # ---- geometry -------------------------------------------------------------------------
    def partial_geometry(self, edge: int, start_fraction: float, end_fraction: float) -> list[tuple[float, float]]:
        """The part of an edge between two fractions of its length (lon/lat, planar interpolation)."""
        line = shapely.LineString(self.edge_geometry[edge])
        if line.length == 0:
            return list(self.edge_geometry[edge][:1])
        part = shapely.ops.substring(line, start_fraction, end_fraction, normalized=True)
        coords = list(part.coords) if part.geom_type == "LineString" else [part.coords[0]]
        return [(float(x), float(y)) for x, y in coords]
