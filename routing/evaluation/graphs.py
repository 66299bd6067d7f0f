"""Checks on street graphs: how far the approximate derived graph is from a real (OSM) one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.network import StreetGraph


@dataclass
class GraphComparison:
    pairs: int
    median_ratio: float
    p90_ratio: float
    p10_ratio: float
    skipped: int

    def lines(self) -> list[str]:
        return [
            f"{self.pairs} node pairs (skipped {self.skipped}): derived/OSM shortest path length "
            f"median {self.median_ratio:.3f}, p10 {self.p10_ratio:.3f}, p90 {self.p90_ratio:.3f}"
        ]


def _length_csr(g: StreetGraph) -> csr_matrix:
    n = g.node_count
    m = csr_matrix((np.maximum(g.edge_metres, 0.01), (g.edge_u, g.edge_v)), shape=(n, n))
    m.sum_duplicates()
    return m


def compare_path_lengths(
    derived: StreetGraph, reference: StreetGraph, *, pairs: int = 500, seed: int = 7, max_snap_metres: float = 40.0
) -> GraphComparison:
    """Shortest-path length between random pairs of derived nodes inside the reference's extent, on both.

    Each derived node is matched to the nearest reference edge (within max_snap_metres); path lengths on
    the reference run from the matched edges' end nodes (a few metres of slack at each end).
    """
    x0, y0, x1, y1 = reference.bbox
    inside = np.where((derived.lon >= x0) & (derived.lon <= x1) & (derived.lat >= y0) & (derived.lat <= y1))[0]
    pts = [(str(i), float(derived.lon[i]), float(derived.lat[i])) for i in inside]
    snaps, _ = reference.snap(pts, max_snap_metres)
    matched = {int(s.point_id): int(reference.edge_v[s.edge]) for s in snaps}
    nodes = np.array(sorted(matched))
    rng = np.random.default_rng(seed)
    a = rng.choice(nodes, size=pairs)
    b = rng.choice(nodes, size=pairs)
    d_derived = dijkstra(_length_csr(derived), directed=True, indices=np.unique(a))
    d_ref = dijkstra(_length_csr(reference), directed=True, indices=np.unique([matched[int(x)] for x in a]))
    row_d = {int(x): i for i, x in enumerate(np.unique(a))}
    row_r = {int(x): i for i, x in enumerate(np.unique([matched[int(x)] for x in a]))}
    ratios = []
    skipped = 0
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        dd = d_derived[row_d[x], y]
        dr = d_ref[row_r[matched[x]], matched[y]]
        if x == y or not np.isfinite(dd) or not np.isfinite(dr) or dr < 50:
            skipped += 1
            continue
        ratios.append(dd / dr)
    r = np.array(ratios)
    return GraphComparison(
        pairs=len(r),
        median_ratio=float(np.median(r)),
        p90_ratio=float(np.percentile(r, 90)),
        p10_ratio=float(np.percentile(r, 10)),
        skipped=skipped,
    )
