"""An approximate citywide graph derived from a named-intersection list: consecutive corners along each
street become edges.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from layers.coords import haversine_m
from layers.normalize import base_name
from routing.network.graph import NetworkConfig, NetworkError, StreetGraph


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
    rows: Iterable[Intersection],
    config: NetworkConfig | None = None,
    *,
    name: str = "derived streets",
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
                    edges[(u, v)] = {
                        "u": u,
                        "v": v,
                        "metres": metres,
                        "seconds": seconds,
                        "name": street,
                        "class": words[-1],
                    }
    if not edges:
        raise NetworkError("no two intersections share a street: nothing to link")
    # Keep the largest strongly connected part, as for OSM: a job on a fragment could never be reached.
    edge_list = list(edges.values())
    n = len(coords)
    adj = csr_matrix(
        (np.ones(len(edge_list)), ([e["u"] for e in edge_list], [e["v"] for e in edge_list])), shape=(n, n)
    )
    _, labels = connected_components(adj, directed=True, connection="strong")
    main = int(np.bincount(labels).argmax())
    keep = {i for i in range(n) if labels[i] == main}
    kept_edges = [e for e in edge_list if e["u"] in keep and e["v"] in keep]
    node_list = [(i, c[0], c[1]) for i, c in enumerate(coords) if i in keep]
    graph = StreetGraph.from_edges(
        node_list, kept_edges, source_kind="derived", name=name, approximate=True, attribution=attribution
    )
    return graph, {
        "intersections": len(coords),
        "streets": len(by_street),
        "edges": len(kept_edges),
        "gaps_not_linked": gaps,
        "dropped_outside_main_component": n - len(keep),
    }


def _order_along_axis(ids: list[int], coords: list[tuple[float, float]], lat0: float) -> list[int]:
    """Order points along their principal axis (in local metres)."""
    xy = np.array([(coords[i][0] * math.cos(lat0), coords[i][1]) for i in ids])
    centred = xy - xy.mean(axis=0)
    if len(ids) == 2:
        return ids
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    t = centred @ vt[0]
    return [ids[k] for k in np.argsort(t, kind="stable")]


def read_intersections(path: Path, columns: dict[str, str]) -> list[Intersection]:
    c = {
        "street_1": "street_1",
        "street_2": "street_2",
        "lon": "longitude",
        "lat": "latitude",
        "zipcode": "zipcode",
        **columns,
    }
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                rows.append(
                    Intersection(
                        row[c["street_1"]],
                        row[c["street_2"]],
                        float(row[c["lon"]]),
                        float(row[c["lat"]]),
                        str(row.get(c["zipcode"]) or "")[:10],
                    )
                )
            except (KeyError, ValueError):
                continue
    return rows
