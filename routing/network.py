"""Street graphs behind one interface: OSM (through osmnx) or derived from named intersections.

`StreetGraph` is Django-free: nodes with lon/lat, directed edges with metres, seconds and geometry,
plus what it is (source kind, version, whether it is approximate, attribution). Routing code asks it
for CSR matrices and for snapping; it never needs to know which network answered, but can say.

- `load_osm(path, config)`: stream-filters the OSM XML to drivable ways (osmnx's graph_from_xml takes
  every way, buildings included: 66 s on the Loop extract versus 4.6 s filtered), builds the graph with
  osmnx, keeps the largest strongly connected component, and imputes speeds and travel times with
  osmnx (`add_edge_speeds` with the city's per-highway defaults, `add_edge_travel_times`). One-way
  streets stay one-way.
- `derive_from_intersections(rows, config)`: a citywide approximate graph from a named-intersection
  list: the intersections along each street are ordered along the street's principal axis and linked
  in sequence when closer than a gap limit; two-way, speeds by street-name suffix. Flagged approximate.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import itertools
import math
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import shapely
import shapely.ops
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from layers.manifests import read_toml
from layers.normalize import base_name

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_SNAP_METRES = 150.0


class NetworkError(ValueError):
    """A network that cannot be built or used as asked; the message says why."""


@dataclass
class NetworkConfig:
    """What a city sets (in a fixture) about its streets; defaults are generic."""

    # Highway classes a crew vehicle may use, and service=* values to leave out.
    drivable: frozenset[str] = frozenset({
        "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
        "living_street", "road", "service", "motorway_link", "trunk_link", "primary_link",
        "secondary_link", "tertiary_link",
    })
    excluded_service: frozenset[str] = frozenset({"parking", "parking_aisle", "driveway", "private",
                                                  "emergency_access"})
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
            node_ids=np.array([n[0] for n in nodes], dtype=np.int64), lon=lon, lat=lat, edge_u=eu, edge_v=ev,
            edge_metres=metres, edge_seconds=seconds, edge_geometry=geometry,
            edge_name=[str(e.get("name") or "") for e in edges], edge_class=[str(e.get("class") or "") for e in edges],
            source_kind=source_kind, name=name, version=digest.hexdigest()[:16], approximate=approximate,
            attribution=attribution,
        )

    # ---- shape -------------------------------------------------------------------------
    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """Extent of the streets themselves (simplified edges carry interior vertices)."""
        pts = np.array([p for geom in self.edge_geometry for p in geom])
        return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))

    @property
    def node_count(self) -> int:
        return int(self.lon.shape[0])

    @property
    def edge_count(self) -> int:
        return int(self.edge_u.shape[0])

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source_kind": self.source_kind, "version": self.version,
                "approximate": self.approximate, "nodes": self.node_count, "edges": self.edge_count,
                "attribution": self.attribution}

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
            info = query_utm_crs_info(datum_name="WGS 84",
                                      area_of_interest=AreaOfInterest(lon0, lat0, lon0, lat0))
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
                bad.append(Unroutable(pid, d, f"more than {max_metres:.0f} m from any street"
                                               + (f" (nearest {d:.0f} m)" if d is not None else "")))
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


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


# ---- OSM ----------------------------------------------------------------------------------


def _open_osm(path: Path) -> Any:
    return bz2.open(path, "rb") if path.suffix == ".bz2" else path.open("rb")


def filter_drivable_osm(path: Path, config: NetworkConfig) -> tuple[Path, dict[str, int]]:
    """Write a temporary OSM XML holding only drivable ways and their nodes (two streaming passes)."""
    if not path.exists():
        raise NetworkError(f"{path}: no such OSM file")
    ways: list[tuple[str, list[str], dict[str, str]]] = []
    wanted: set[str] = set()
    try:
        with _open_osm(path) as fh:
            for _, el in ET.iterparse(fh, events=("end",)):
                if el.tag == "way":
                    tags = {t.get("k", ""): t.get("v", "") for t in el.findall("tag")}
                    if (tags.get("highway") in config.drivable and tags.get("area") != "yes"
                            and tags.get("access") not in ("private", "no")
                            and tags.get("motor_vehicle") != "no" and tags.get("motorcar") != "no"
                            and tags.get("service") not in config.excluded_service):
                        refs = [n.get("ref", "") for n in el.findall("nd")]
                        wanted.update(refs)
                        ways.append((el.get("id", ""), refs, tags))
                    el.clear()
                elif el.tag == "relation":
                    el.clear()
        nodes: dict[str, tuple[str, str]] = {}
        with _open_osm(path) as fh:
            for _, el in ET.iterparse(fh, events=("end",)):
                if el.tag == "node":
                    nid = el.get("id", "")
                    if nid in wanted:
                        nodes[nid] = (el.get("lat", ""), el.get("lon", ""))
                    el.clear()
                elif el.tag in ("way", "relation"):
                    el.clear()
    except (ET.ParseError, OSError, EOFError) as exc:
        raise NetworkError(f"{path.name}: not a readable OSM XML file: {exc}") from None
    if not ways:
        raise NetworkError(f"{path.name}: no drivable ways (highway in {sorted(config.drivable)})")
    missing = wanted - nodes.keys()
    with tempfile.NamedTemporaryFile("w", suffix=".osm", delete=False, encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n')
        for nid, (lat, lon) in nodes.items():
            out.write(f'<node id="{nid}" lat="{lat}" lon="{lon}"/>\n')
        for wid, refs, tags in ways:
            present = [r for r in refs if r in nodes]
            if len(present) < 2:
                continue
            out.write(f'<way id="{wid}">' + "".join(f'<nd ref="{r}"/>' for r in present)
                      + "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()) + "</way>\n")
        out.write("</osm>\n")
    return Path(out.name), {"drivable_ways": len(ways), "nodes": len(nodes), "missing_nodes": len(missing)}


def load_osm(path: Path, config: NetworkConfig | None = None, *, name: str | None = None,
             attribution: str = "© OpenStreetMap contributors, ODbL") -> tuple[StreetGraph, dict[str, int]]:
    """A drivable, strongly connected street graph from a local OSM XML (.osm or .osm.bz2) file."""
    import osmnx as ox

    config = config or NetworkConfig()
    filtered, counts = filter_drivable_osm(path, config)
    try:
        graph = ox.graph_from_xml(filtered, simplify=True, retain_all=True)
    finally:
        filtered.unlink(missing_ok=True)
    counts["osmnx_nodes"], counts["osmnx_edges"] = len(graph), graph.number_of_edges()
    graph = ox.truncate.largest_component(graph, strongly=True)
    speeds = dict(config.highway_speeds) or None
    graph = ox.routing.add_edge_speeds(graph, hwy_speeds=speeds, fallback=config.fallback_speed_kph)
    graph = ox.routing.add_edge_travel_times(graph)
    nodes = [(int(n), float(d["x"]), float(d["y"])) for n, d in graph.nodes(data=True)]
    edges = []
    for u, v, d in graph.edges(data=True):
        geom = d.get("geometry")
        coords = ([(float(x), float(y)) for x, y in geom.coords] if geom is not None
                  else [(graph.nodes[u]["x"], graph.nodes[u]["y"]), (graph.nodes[v]["x"], graph.nodes[v]["y"])])
        nm = d.get("name", "")
        hw = d.get("highway", "")
        edges.append({"u": int(u), "v": int(v), "metres": float(d["length"]),
                      "seconds": max(0.1, float(d["travel_time"])), "geometry": coords,
                      "name": nm if isinstance(nm, str) else "/".join(map(str, nm)),
                      "class": hw if isinstance(hw, str) else "/".join(map(str, hw))})
    counts["nodes"], counts["edges"] = len(nodes), len(edges)
    sg = StreetGraph.from_edges(nodes, edges, source_kind="osm", name=name or path.name, attribution=attribution)
    return sg, counts


# ---- derived from intersections -----------------------------------------------------------


@dataclass(frozen=True)
class Intersection:
    street_1: str
    street_2: str
    lon: float
    lat: float
    zipcode: str = ""


def base_street_name(name: str, config: NetworkConfig) -> str:
    """'N ASHLAND AVE' and 'S ASHLAND AVE' are one street: the geocoder's rule, with the city's prefixes."""
    return base_name(name, config.direction_prefixes)


def derive_from_intersections(
    rows: Iterable[Intersection], config: NetworkConfig | None = None, *, name: str = "derived streets",
    attribution: str = "",
) -> tuple[StreetGraph, dict[str, int]]:
    """An approximate citywide graph: consecutive intersections along each street, two-way."""
    config = config or NetworkConfig()
    node_of: dict[tuple[int, int], int] = {}
    coords: list[tuple[float, float]] = []
    by_street: dict[str, set[int]] = defaultdict(set)
    for row in rows:
        key = (round(row.lon * 1e5), round(row.lat * 1e5))  # ~1 m: the same corner listed twice
        nid = node_of.setdefault(key, len(coords))
        if nid == len(coords):
            coords.append((row.lon, row.lat))
        for street in (row.street_1, row.street_2):
            if street.strip():
                by_street[base_street_name(street, config)].add(nid)
    if not coords:
        raise NetworkError("no intersections to derive streets from")
    lat0 = math.radians(float(np.median([c[1] for c in coords])))
    edges: dict[tuple[int, int], dict[str, Any]] = {}
    gaps = 0
    for street, ids in by_street.items():
        if len(ids) < 2:
            continue
        ordered = _order_along_axis(sorted(ids), coords, lat0)
        words = street.split(" ")
        kph = config.suffix_speeds.get(words[-1], config.fallback_speed_kph)
        for a, b in itertools.pairwise(ordered):
            metres = haversine_m(*coords[a], *coords[b])
            if metres > config.max_gap_metres:
                gaps += 1
                continue
            seconds = max(1.0, metres / (kph / 3.6))
            for u, v in ((a, b), (b, a)):
                old = edges.get((u, v))
                if old is None or old["seconds"] > seconds:
                    edges[(u, v)] = {"u": u, "v": v, "metres": metres, "seconds": seconds, "name": street,
                                     "class": words[-1]}
    if not edges:
        raise NetworkError("no two intersections share a street: nothing to link")
    # Keep the largest strongly connected part, as for OSM: a job on a fragment could never be reached.
    edge_list = list(edges.values())
    n = len(coords)
    adj = csr_matrix((np.ones(len(edge_list)), ([e["u"] for e in edge_list], [e["v"] for e in edge_list])),
                     shape=(n, n))
    _, labels = connected_components(adj, directed=True, connection="strong")
    main = int(np.bincount(labels).argmax())
    keep = {i for i in range(n) if labels[i] == main}
    kept_edges = [e for e in edge_list if e["u"] in keep and e["v"] in keep]
    node_list = [(i, c[0], c[1]) for i, c in enumerate(coords) if i in keep]
    graph = StreetGraph.from_edges(node_list, kept_edges, source_kind="derived", name=name,
                                   approximate=True, attribution=attribution)
    return graph, {"intersections": len(coords), "streets": len(by_street), "edges": len(kept_edges),
                   "gaps_not_linked": gaps, "dropped_outside_main_component": n - len(keep)}


def _order_along_axis(ids: list[int], coords: list[tuple[float, float]], lat0: float) -> list[int]:
    """Order points along their principal axis (in local metres)."""
    xy = np.array([(coords[i][0] * math.cos(lat0), coords[i][1]) for i in ids])
    centred = xy - xy.mean(axis=0)
    if len(ids) == 2:
        return ids
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    t = centred @ vt[0]
    return [ids[k] for k in np.argsort(t, kind="stable")]


# ---- a city's manifest of networks (fixtures/<city>/streets.toml) -----------------------------


@dataclass
class StreetNetworkSpec:
    kind: str  # "osm" | "derived"
    name: str
    path: Path
    source: str = ""
    licence: str = ""
    attribution: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # derived: street_1, street_2, lon, lat


def read_streets_manifest(path: Path) -> tuple[NetworkConfig, list[StreetNetworkSpec]]:
    data = read_toml(path, NetworkError)
    net = data.get("network", {})
    config = NetworkConfig(
        highway_speeds={k: float(v) for k, v in net.get("highway_speeds", {}).items()},
        suffix_speeds={k.upper(): float(v) for k, v in net.get("suffix_speeds", {}).items()},
        fallback_speed_kph=float(net.get("fallback_speed_kph", 30.0)),
        max_gap_metres=float(net.get("max_gap_metres", 800.0)),
        snap_metres=float(net.get("snap_metres", 150.0)),
    )
    if "direction_prefixes" in net:
        config.direction_prefixes = frozenset(str(x).upper() for x in net["direction_prefixes"])
    specs = [
        StreetNetworkSpec(kind=n["kind"], name=n["name"], path=(path.parent / n["file"]).resolve(),
                          source=n.get("source", ""), licence=n.get("licence", ""),
                          attribution=n.get("attribution", ""), columns=n.get("columns", {}))
        for n in data.get("networks", [])
    ]
    return config, specs


def read_intersections(path: Path, columns: dict[str, str]) -> list[Intersection]:
    c = {"street_1": "street_1", "street_2": "street_2", "lon": "longitude", "lat": "latitude", "zipcode": "zipcode",
         **columns}
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                rows.append(Intersection(row[c["street_1"]], row[c["street_2"]], float(row[c["lon"]]),
                                         float(row[c["lat"]]), str(row.get(c["zipcode"]) or "")[:10]))
            except (KeyError, ValueError):
                continue
    return rows


def build_graph(spec: StreetNetworkSpec, config: NetworkConfig) -> tuple[StreetGraph, dict[str, Any]]:
    if spec.kind == "osm":
        graph, counts = load_osm(spec.path, config, name=spec.name, attribution=spec.attribution or
                                 "© OpenStreetMap contributors, ODbL")
        return graph, dict(counts)
    if spec.kind == "derived":
        graph, counts = derive_from_intersections(read_intersections(spec.path, spec.columns), config,
                                                  name=spec.name, attribution=spec.attribution)
        return graph, dict(counts)
    raise NetworkError(f"unknown network kind {spec.kind!r}; expected 'osm' or 'derived'")


