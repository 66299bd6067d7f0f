"""Travel-time matrices: ours (scipy.sparse.csgraph, mid-block snapping) vs networkx, same graphs, same run.

    python benchmarks/street_matrix.py [--json] [--points N] [--city-points N] [--nx-sample N]

1. Loop OSM graph (fixtures/chicago/osm): an N x N matrix between random points on random streets;
   ours end to end (snapping included) and node-to-node, networkx single-source Dijkstra from each
   source node over the same weights.
2. Citywide derived graph (fixtures/chicago/geocoding): a 1,500 x 1,500 matrix; networkx is timed on
   a sample of sources and scaled to all of them (it would take minutes), which the table says.
3. Derived vs OSM shortest-path length on the Loop (500 random node pairs): median and p90 ratio.
Goals: Loop matrix ≤ 2 s; citywide 1,500 x 1,500 ≤ 30 s; derived/OSM median within ±15 %.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Callable

import networkx as nx
import numpy as np
from _common import ROOT, Result, parser

sys.path.insert(0, str(ROOT))

from routing.evaluation.graphs import compare_path_lengths
from routing.matrix import node_to_node, travel_matrix
from routing.network import (
    StreetGraph,
    derive_from_intersections,
    load_osm,
    read_intersections,
    read_streets_manifest,
)


def random_points(graph: StreetGraph, n: int, seed: int) -> list[tuple[str, float, float]]:
    rng = np.random.default_rng(seed)
    pts = []
    for k, e in enumerate(rng.integers(0, graph.edge_count, size=n)):
        geom = graph.edge_geometry[int(e)]
        a, b = geom[0], geom[-1]
        f = float(rng.uniform(0.1, 0.9))
        pts.append((f"p{k}", a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])))
    return pts


def to_networkx(graph: StreetGraph) -> nx.DiGraph:
    G = nx.DiGraph()
    for e in range(graph.edge_count):
        u, v, w = int(graph.edge_u[e]), int(graph.edge_v[e]), float(graph.edge_seconds[e])
        if not G.has_edge(u, v) or G[u][v]["w"] > w:
            G.add_edge(u, v, w=w)
    return G


def nx_seconds(G: nx.DiGraph, sources: np.ndarray, targets: np.ndarray) -> float:
    t0 = time.perf_counter()
    for s in sources.tolist():
        lengths = nx.single_source_dijkstra_path_length(G, s, weight="w")
        _ = [lengths.get(t) for t in targets.tolist()]
    return time.perf_counter() - t0


def peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--points", type=int, default=1000)
    p.add_argument("--city-points", type=int, default=1500)
    p.add_argument("--nx-sample", type=int, default=100, help="networkx sources timed on the citywide graph")
    args = p.parse_args()
    config, specs = read_streets_manifest(ROOT / "fixtures" / "chicago" / "streets.toml")
    loop_spec = next(s for s in specs if s.kind == "osm" and "Loop" in s.name)
    city_spec = next(s for s in specs if s.kind == "derived")
    res = Result("street_matrix")

    loop, _ = load_osm(loop_spec.path, config)
    pts = random_points(loop, args.points, seed=1)
    t0 = time.perf_counter()
    tm = travel_matrix(loop, pts, use_cache=False)
    ours_loop = time.perf_counter() - t0
    rng = np.random.default_rng(2)
    nodes = rng.choice(loop.node_count, size=min(args.points, loop.node_count), replace=False)
    t0 = time.perf_counter()
    node_to_node(loop, nodes, nodes)
    ours_nodes = time.perf_counter() - t0
    G = to_networkx(loop)
    peer_loop = nx_seconds(G, nodes, nodes)
    mem_ours = peak_mib(lambda: travel_matrix(loop, pts, use_cache=False))
    res.add(
        f"Loop OSM {len(tm.point_ids)}x{len(tm.point_ids)} matrix, points snapped mid-block",
        "s",
        ours_loop,
        None,
        "-",
        "lower",
    )
    res.add(
        f"Loop OSM node-to-node {len(nodes)}x{len(nodes)}", "s", ours_nodes, peer_loop, "networkx Dijkstra", "lower"
    )
    res.add("Loop peak memory of the full snapped matrix (tracemalloc)", "MiB", mem_ours, None, "-", "lower")

    city, counts = derive_from_intersections(read_intersections(city_spec.path, city_spec.columns), config)
    cpts = random_points(city, args.city_points, seed=3)
    t0 = time.perf_counter()
    ctm = travel_matrix(city, cpts, use_cache=False)
    ours_city = time.perf_counter() - t0
    cnodes = np.random.default_rng(4).choice(city.node_count, size=args.city_points, replace=False)
    t0 = time.perf_counter()
    node_to_node(city, cnodes, cnodes)
    ours_city_nodes = time.perf_counter() - t0
    CG = to_networkx(city)
    sample = cnodes[: args.nx_sample]
    peer_city = nx_seconds(CG, sample, cnodes) * (len(cnodes) / len(sample))
    res.add(
        f"citywide derived {len(ctm.point_ids)}x{len(ctm.point_ids)} matrix, snapped",
        "s",
        ours_city,
        None,
        "-",
        "lower",
    )
    res.add(
        f"citywide node-to-node {len(cnodes)}x{len(cnodes)}",
        "s",
        ours_city_nodes,
        peer_city,
        f"networkx (timed on {len(sample)} sources, scaled)",
        "lower",
    )

    cmp = compare_path_lengths(city, loop, pairs=500)
    res.add("derived/OSM path length on the Loop, median", "ratio", cmp.median_ratio, 1.0, "OSM (= 1)", "closer to 1")
    res.add("derived/OSM path length on the Loop, p90", "ratio", cmp.p90_ratio, 1.0, "OSM (= 1)", "closer to 1")
    res.notes.append("goals: Loop matrix ≤ 2 s; citywide 1,500 x 1,500 ≤ 30 s; derived/OSM median within ±15 %")
    res.notes.append(
        f"Loop graph {loop.node_count} nodes / {loop.edge_count} edges; citywide derived "
        f"{city.node_count} nodes / {city.edge_count} edges ({counts['gaps_not_linked']} gaps not linked)"
    )
    res.notes.append(f"unroutable points: Loop {len(tm.unroutable)}, citywide {len(ctm.unroutable)}")
    res.notes.extend(cmp.lines())
    res.details = {"loop": loop.describe(), "city": city.describe(), "comparison": cmp.__dict__}
    res.print(args.json)


if __name__ == "__main__":
    main()
