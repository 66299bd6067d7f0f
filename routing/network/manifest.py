"""A city's streets manifest (which networks to build from which files) and building each one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layers.manifests import read_toml
from routing.network.derived import derive_from_intersections, read_intersections
from routing.network.graph import NetworkConfig, NetworkError, StreetGraph
from routing.network.osm import load_osm


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
        StreetNetworkSpec(
            kind=n["kind"],
            name=n["name"],
            path=(path.parent / n["file"]).resolve(),
            source=n.get("source", ""),
            licence=n.get("licence", ""),
            attribution=n.get("attribution", ""),
            columns=n.get("columns", {}),
        )
        for n in data.get("networks", [])
    ]
    return config, specs


def build_graph(spec: StreetNetworkSpec, config: NetworkConfig) -> tuple[StreetGraph, dict[str, Any]]:
    if spec.kind == "osm":
        graph, counts = load_osm(
            spec.path, config, name=spec.name, attribution=spec.attribution or "© OpenStreetMap contributors, ODbL"
        )
        return graph, dict(counts)
    if spec.kind == "derived":
        graph, counts = derive_from_intersections(
            read_intersections(spec.path, spec.columns), config, name=spec.name, attribution=spec.attribution
        )
        return graph, dict(counts)
    raise NetworkError(f"unknown network kind {spec.kind!r}; expected 'osm' or 'derived'")
