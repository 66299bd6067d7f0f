"""Reading a local OSM file (XML, or PBF through pyosmium) into a drivable StreetGraph through osmnx."""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import quoteattr

from layers.osmfiles import open_xml, osm_xml
from routing.network.graph import NetworkConfig, NetworkError, StreetGraph


def filter_drivable_osm(path: Path, config: NetworkConfig) -> tuple[Path, dict[str, int]]:
    """Write a temporary OSM XML holding only drivable ways and their nodes (two streaming passes); a PBF
    file is read through pyosmium (layers.osmfiles)."""
    if not path.exists():
        raise NetworkError(f"{path}: no such OSM file")
    try:
        with osm_xml(path) as xml:
            return _filter_xml(xml, path.name, config)
    except ValueError as exc:  # a PBF file libosmium cannot read
        raise NetworkError(str(exc)) from None


def _filter_xml(path: Path, shown: str, config: NetworkConfig) -> tuple[Path, dict[str, int]]:
    ways: list[tuple[str, list[str], dict[str, str]]] = []
    wanted: set[str] = set()
    try:
        with open_xml(path) as fh:
            for _, el in ET.iterparse(fh, events=("end",)):
                if el.tag == "way":
                    tags = {t.get("k", ""): t.get("v", "") for t in el.findall("tag")}
                    if (
                        tags.get("highway") in config.drivable
                        and tags.get("area") != "yes"
                        and tags.get("access") not in ("private", "no")
                        and tags.get("motor_vehicle") != "no"
                        and tags.get("motorcar") != "no"
                        and tags.get("service") not in config.excluded_service
                    ):
                        refs = [n.get("ref", "") for n in el.findall("nd")]
                        wanted.update(refs)
                        ways.append((el.get("id", ""), refs, tags))
                    el.clear()
                elif el.tag == "relation":
                    el.clear()
        nodes: dict[str, tuple[str, str]] = {}
        with open_xml(path) as fh:
            for _, el in ET.iterparse(fh, events=("end",)):
                if el.tag == "node":
                    nid = el.get("id", "")
                    if nid in wanted:
                        nodes[nid] = (el.get("lat", ""), el.get("lon", ""))
                    el.clear()
                elif el.tag in ("way", "relation"):
                    el.clear()
    except (ET.ParseError, OSError, EOFError) as exc:  # a ParseError's message names the line and column
        raise NetworkError(f"{shown}: not a readable OSM XML file: {exc}") from None
    if not ways:
        raise NetworkError(f"{shown}: no drivable ways (highway in {sorted(config.drivable)})")
    missing = wanted - nodes.keys()
    with tempfile.NamedTemporaryFile("w", suffix=".osm", delete=False, encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n')
        for nid, (lat, lon) in nodes.items():
            out.write(f'<node id="{nid}" lat="{lat}" lon="{lon}"/>\n')
        for wid, refs, tags in ways:
            present = [r for r in refs if r in nodes]
            if len(present) < 2:
                continue
            out.write(
                f'<way id="{wid}">'
                + "".join(f'<nd ref="{r}"/>' for r in present)
                + "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
                + "</way>\n"
            )
        out.write("</osm>\n")
    return Path(out.name), {"drivable_ways": len(ways), "osm_nodes": len(nodes), "missing_nodes": len(missing)}


def load_osm(
    path: Path,
    config: NetworkConfig | None = None,
    *,
    name: str | None = None,
    attribution: str = "© OpenStreetMap contributors, ODbL",
) -> tuple[StreetGraph, dict[str, int]]:
    """A drivable, strongly connected street graph from a local OSM file (.osm, .osm.bz2 or .osm.pbf)."""
    import osmnx as ox  # imported here: osmnx (geopandas, shapely) costs seconds at start-up, only loads need it

    config = config or NetworkConfig()
    filtered, counts = filter_drivable_osm(path, config)
    try:
        graph = ox.graph_from_xml(filtered, simplify=False, retain_all=True)
    finally:
        filtered.unlink(missing_ok=True)
    # A node where the street's name changes is kept even where only two ways meet: it is a named corner
    # ("18th St" turning into "Utah St" under a freeway) that the geocoder and the crews need.
    graph = ox.simplify_graph(graph, edge_attrs_differ=["name"])
    counts["osmnx_nodes"], counts["osmnx_edges"] = len(graph), graph.number_of_edges()
    graph = ox.truncate.largest_component(graph, strongly=True)
    speeds = dict(config.highway_speeds) or None
    graph = ox.routing.add_edge_speeds(graph, hwy_speeds=speeds, fallback=config.fallback_speed_kph)
    graph = ox.routing.add_edge_travel_times(graph)
    nodes = [(int(n), float(d["x"]), float(d["y"])) for n, d in graph.nodes(data=True)]
    edges = []
    for u, v, d in graph.edges(data=True):
        geom = d.get("geometry")
        coords = (
            [(float(x), float(y)) for x, y in geom.coords]
            if geom is not None
            else [(graph.nodes[u]["x"], graph.nodes[u]["y"]), (graph.nodes[v]["x"], graph.nodes[v]["y"])]
        )
        nm = d.get("name", "")
        hw = d.get("highway", "")
        edges.append(
            {
                "u": int(u),
                "v": int(v),
                "metres": float(d["length"]),
                "seconds": max(0.1, float(d["travel_time"])),
                "geometry": coords,
                "name": nm if isinstance(nm, str) else "/".join(map(str, nm)),
                "class": hw if isinstance(hw, str) else "/".join(map(str, hw)),
            }
        )
    counts["nodes"], counts["edges"] = len(nodes), len(edges)
    sg = StreetGraph.from_edges(nodes, edges, source_kind="osm", name=name or path.name, attribution=attribution)
    return sg, counts
