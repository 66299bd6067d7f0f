"""Many-to-many travel times and distances on a StreetGraph, with scipy.sparse.csgraph.

A point joins the network mid-block: it sits on an edge at a fraction of its length, so it leaves
toward the edge's end (and, on a two-way street, toward its start along the twin edge) at the right
partial cost, and is reached the same way. Dijkstra runs once per distinct exit node, in chunks,
over a CSR matrix whose packed weights carry time and length together (see StreetGraph.packed_csr);
only the columns of the targets' entry nodes are kept, so memory stays |exits| x |entries|.

Results are cached per graph version and point set: a new network version never reuses old times.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.csgraph import dijkstra

from routing.network import DEFAULT_SNAP_METRES, Snap, StreetGraph, Unroutable

CHUNK_SOURCES = 256
_CACHE: OrderedDict[tuple[str, float, str], TravelMatrix] = OrderedDict()
CACHE_SIZE = 16


@dataclass
class TravelMatrix:
    point_ids: list[str]  # rows/columns, in input order, routable points only
    seconds: np.ndarray
    metres: np.ndarray
    snaps: list[Snap]
    unroutable: list[Unroutable]
    network: dict[str, object] = field(default_factory=dict)  # which network answered

    def index(self, point_id: str) -> int:
        return self.point_ids.index(point_id)


def _ends(
    graph: StreetGraph, snaps: Sequence[Snap]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per snap, two ways out and two ways in: node, seconds, metres (inf where there is no twin)."""
    n = len(snaps)
    out_node = np.zeros((n, 2), dtype=np.int64)
    in_node = np.zeros((n, 2), dtype=np.int64)
    out_cost = np.full((n, 2, 2), np.inf)  # [point, way, (seconds, metres)]
    in_cost = np.full((n, 2, 2), np.inf)
    for i, s in enumerate(snaps):
        e, f = s.edge, s.fraction
        t, m = graph.edge_seconds[e], graph.edge_metres[e]
        out_node[i, 0], out_cost[i, 0] = graph.edge_v[e], ((1 - f) * t, (1 - f) * m)
        in_node[i, 0], in_cost[i, 0] = graph.edge_u[e], (f * t, f * m)
        if s.twin is not None:
            tt, tm = graph.edge_seconds[s.twin], graph.edge_metres[s.twin]
            out_node[i, 1], out_cost[i, 1] = graph.edge_v[s.twin], (f * tt, f * tm)
            in_node[i, 1], in_cost[i, 1] = graph.edge_u[s.twin], ((1 - f) * tt, (1 - f) * tm)
        else:
            out_node[i, 1], in_node[i, 1] = out_node[i, 0], in_node[i, 0]
    return out_node, out_cost[..., 0], out_cost[..., 1], in_node, in_cost[..., 0], in_cost[..., 1]


def node_to_node(graph: StreetGraph, sources: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, metres) of the fastest paths between graph nodes, |sources| x |targets|."""
    csr = graph.packed_csr()
    seconds = np.empty((len(sources), len(targets)))
    metres = np.empty_like(seconds)
    for start in range(0, len(sources), CHUNK_SOURCES):
        chunk = sources[start : start + CHUNK_SOURCES]
        packed = dijkstra(csr, directed=True, indices=chunk)[:, targets]
        s, m = StreetGraph.unpack(packed)
        seconds[start : start + len(chunk)] = s
        metres[start : start + len(chunk)] = m
    return seconds, metres


def travel_matrix(
    graph: StreetGraph,
    points: Sequence[tuple[str, float, float]],
    *,
    max_snap_metres: float = DEFAULT_SNAP_METRES,
    use_cache: bool = True,
) -> TravelMatrix:
    """Fastest travel seconds and their metres between every pair of routable points (id, lon, lat)."""
    key = (
        graph.version,
        max_snap_metres,
        hashlib.sha256(repr([(p[0], round(p[1], 7), round(p[2], 7)) for p in points]).encode()).hexdigest(),
    )
    if use_cache and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    snaps, bad = graph.snap(points, max_snap_metres)
    n = len(snaps)
    if n == 0:
        result = TravelMatrix([], np.zeros((0, 0)), np.zeros((0, 0)), [], bad, graph.describe())
    else:
        out_node, out_s, out_m, in_node, in_s, in_m = _ends(graph, snaps)
        exits, exit_pos = np.unique(out_node, return_inverse=True)
        entries, entry_pos = np.unique(in_node, return_inverse=True)
        exit_pos = exit_pos.reshape(out_node.shape)
        entry_pos = entry_pos.reshape(in_node.shape)
        d_s, d_m = node_to_node(graph, exits, entries)
        best_s = np.full((n, n), np.inf)
        best_m = np.full((n, n), np.inf)
        for a in range(2):
            for b in range(2):
                cand_s = out_s[:, a, None] + d_s[exit_pos[:, a]][:, entry_pos[:, b]] + in_s[None, :, b]
                cand_m = out_m[:, a, None] + d_m[exit_pos[:, a]][:, entry_pos[:, b]] + in_m[None, :, b]
                better = cand_s < best_s
                best_s[better], best_m[better] = cand_s[better], cand_m[better]
        _same_edge_shortcuts(graph, snaps, best_s, best_m)
        np.fill_diagonal(best_s, 0.0)
        np.fill_diagonal(best_m, 0.0)
        result = TravelMatrix([s.point_id for s in snaps], best_s, best_m, snaps, bad, graph.describe())
    if use_cache:
        _CACHE[key] = result
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


def _same_edge_shortcuts(graph: StreetGraph, snaps: Sequence[Snap], best_s: np.ndarray, best_m: np.ndarray) -> None:
    """Two points on the same block: drive straight along it (forward, or backward on a two-way street)."""
    by_edge: dict[int, list[int]] = {}
    for i, s in enumerate(snaps):
        by_edge.setdefault(s.edge, []).append(i)
        if s.twin is not None:
            by_edge.setdefault(s.twin, []).append(i)
    for edge, members in by_edge.items():
        if len(members) < 2:
            continue
        t, m = graph.edge_seconds[edge], graph.edge_metres[edge]
        for i in members:
            fi = snaps[i].fraction if snaps[i].edge == edge else 1 - snaps[i].fraction
            for j in members:
                fj = snaps[j].fraction if snaps[j].edge == edge else 1 - snaps[j].fraction
                if i != j and fj >= fi and (fj - fi) * t < best_s[i, j]:
                    best_s[i, j], best_m[i, j] = (fj - fi) * t, (fj - fi) * m


def clear_cache() -> None:
    _CACHE.clear()


def route_geometry(
    graph: StreetGraph, points: Sequence[tuple[str, float, float]], max_snap_metres: float = DEFAULT_SNAP_METRES
) -> list[tuple[float, float]]:
    """The street geometry (lon/lat) of driving through `points` in order, for maps and the tablet."""
    snaps, bad = graph.snap(points, max_snap_metres)
    if bad:
        raise ValueError("unroutable: " + "; ".join(f"{u.point_id}: {u.reason}" for u in bad))
    csr = graph.packed_csr()
    best_edge: dict[tuple[int, int], int] = {}
    for e in range(graph.edge_count):
        key = (int(graph.edge_u[e]), int(graph.edge_v[e]))
        if key not in best_edge or graph.edge_seconds[e] < graph.edge_seconds[best_edge[key]]:
            best_edge[key] = e
    coords: list[tuple[float, float]] = []
    for a, b in itertools.pairwise(snaps):
        leg = _leg(graph, csr, best_edge, a, b)
        coords.extend(leg if not coords else leg[1:])
    return coords


def _leg(graph: StreetGraph, csr: object, best_edge: dict[tuple[int, int], int], a: Snap, b: Snap) -> list:
    ways_out = [(a.edge, a.fraction, 1.0)] + ([(a.twin, 1 - a.fraction, 1.0)] if a.twin is not None else [])
    ways_in = [(b.edge, 0.0, b.fraction)] + ([(b.twin, 0.0, 1 - b.fraction)] if b.twin is not None else [])
    if a.edge == b.edge and b.fraction >= a.fraction:
        return graph.partial_geometry(a.edge, a.fraction, b.fraction)
    best: tuple[float, list] | None = None
    for e_out, f0, f1 in ways_out:
        start = int(graph.edge_v[e_out])
        dist, pred = dijkstra(csr, directed=True, indices=start, return_predecessors=True)
        for e_in, g0, g1 in ways_in:
            end = int(graph.edge_u[e_in])
            if not np.isfinite(dist[end]):
                continue
            cost = (
                (f1 - f0) * graph.edge_seconds[e_out]
                + StreetGraph.unpack(np.array([dist[end]]))[0][0]
                + (g1 - g0) * graph.edge_seconds[e_in]
            )
            if best is None or cost < best[0]:
                path = [end]
                while path[-1] != start:
                    path.append(int(pred[path[-1]]))
                path.reverse()
                geom = graph.partial_geometry(e_out, f0, f1)
                for u, v in itertools.pairwise(path):
                    geom.extend(graph.edge_geometry[best_edge[(u, v)]][1:])
                geom.extend(graph.partial_geometry(e_in, g0, g1)[1:])
                best = (cost, geom)
    if best is None:
        raise ValueError(f"no path from {a.point_id} to {b.point_id}")
    return best[1]
