"""Street graphs and travel matrices.

The literal network (lon/lat degrees; 0.001 deg is about 111 m at the equator):

    D(0,.001) ──► E(.001,.001) ──► F(.002,.001)      top row: one-way eastbound
      │               │               │              verticals: two-way
    A(0,0) ──── B(.001,0) ──── C(.002,0)             bottom row: two-way

Every street runs at 10 m/s.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components

from layers.coords import haversine_m
from routing.matrix import node_to_node, route_geometry, travel_matrix
from routing.network import Intersection, NetworkConfig, NetworkError, StreetGraph, derive_from_intersections, load_osm

NODES = {
    "A": (1, 0.0, 0.0),
    "B": (2, 0.001, 0.0),
    "C": (3, 0.002, 0.0),
    "D": (4, 0.0, 0.001),
    "E": (5, 0.001, 0.001),
    "F": (6, 0.002, 0.001),
}
TWO_WAY = [("A", "B"), ("B", "C"), ("A", "D"), ("B", "E"), ("C", "F")]
ONE_WAY = [("D", "E"), ("E", "F")]
SPEED = 10.0


def literal_graph(speed: float = SPEED) -> StreetGraph:
    edges = []
    for a, b in TWO_WAY + [(b, a) for a, b in TWO_WAY] + ONE_WAY:
        (ia, xa, ya), (ib, xb, yb) = NODES[a], NODES[b]
        m = haversine_m(xa, ya, xb, yb)
        edges.append({"u": ia, "v": ib, "metres": m, "seconds": m / speed, "name": a + b})
    return StreetGraph.from_edges(list(NODES.values()), edges, source_kind="literal", name="six nodes")


def pos(graph: StreetGraph, label: str) -> int:
    return int(np.where(graph.node_ids == NODES[label][0])[0][0])


BLOCK = haversine_m(0, 0, 0.001, 0)  # ~111.2 m


def test_one_way_streets_are_respected():
    g = literal_graph()
    s, m = node_to_node(g, np.array([pos(g, "D"), pos(g, "F")]), np.array([pos(g, "F"), pos(g, "D")]))
    assert m[0, 0] == pytest.approx(2 * BLOCK, abs=2)  # D -> E -> F, with the one-way
    assert m[1, 1] == pytest.approx(4 * BLOCK, abs=2)  # F -> C -> B -> A -> D: against it is not allowed
    assert s[1, 1] == pytest.approx(4 * BLOCK / SPEED, abs=0.5)


def test_a_point_mid_block_reaches_both_ends_at_partial_cost():
    g = literal_graph()
    mid_ab = ("pothole", 0.0005, 0.00001)  # middle of A-B, ~1 m off the kerb line
    tm = travel_matrix(g, [mid_ab, ("a", 0.0, 0.0), ("c", 0.002, 0.0)], use_cache=False)
    snap = tm.snaps[0]
    assert snap.fraction == pytest.approx(0.5, abs=0.01)
    assert snap.distance_m == pytest.approx(1.1, abs=0.2)
    i, a, c = tm.index("pothole"), tm.index("a"), tm.index("c")
    assert tm.metres[i, a] == pytest.approx(BLOCK / 2, abs=2)  # back along the two-way block
    assert tm.metres[i, c] == pytest.approx(1.5 * BLOCK, abs=2)
    assert tm.metres[a, i] == pytest.approx(BLOCK / 2, abs=2)


def test_points_on_the_same_one_way_block_go_forward_only():
    g = literal_graph()
    tm = travel_matrix(g, [("west", 0.0003, 0.001), ("east", 0.0007, 0.001)], use_cache=False)
    assert tm.metres[0, 1] == pytest.approx(0.4 * BLOCK, abs=2)
    # East to west on a one-way eastbound block: round the loop E -> B -> A -> D -> west.
    assert tm.metres[1, 0] == pytest.approx((0.3 + 1 + 1 + 1 + 0.3) * BLOCK, abs=3)


def test_a_point_far_from_every_street_is_reported_not_moved():
    g = literal_graph()
    tm = travel_matrix(g, [("ok", 0.001, 0.0005), ("lake", 0.01, 0.01)], use_cache=False)
    assert tm.point_ids == ["ok"]
    assert [u.point_id for u in tm.unroutable] == ["lake"]
    assert "more than 150 m from any street" in tm.unroutable[0].reason


def test_the_node_matrix_equals_networkx():
    g = literal_graph()
    G = nx.DiGraph()
    for e in range(g.edge_count):
        G.add_edge(int(g.edge_u[e]), int(g.edge_v[e]), w=float(g.edge_seconds[e]))
    allnodes = np.arange(g.node_count)
    ours, _ = node_to_node(g, allnodes, allnodes)
    for s in allnodes:
        lengths = nx.single_source_dijkstra_path_length(G, int(s), weight="w")
        for t in allnodes:
            assert ours[s, t] == pytest.approx(lengths[int(t)], abs=0.11)  # times travel in 0.1 s units


def test_the_cache_answers_repeat_questions_and_forgets_old_versions():
    slow, fast = literal_graph(5.0), literal_graph(20.0)
    pts = [("a", 0.0, 0.0), ("f", 0.002, 0.001)]
    first = travel_matrix(slow, pts)
    assert travel_matrix(slow, pts) is first
    assert slow.version != fast.version
    other = travel_matrix(fast, pts)
    assert other is not first
    assert other.seconds[0, 1] == pytest.approx(first.seconds[0, 1] / 4, rel=0.02)
    assert other.network["version"] == fast.version


def test_route_geometry_follows_the_streets_around_the_one_way():
    g = literal_graph()
    coords = route_geometry(g, [("start", 0.002, 0.0008), ("end", 0.0, 0.0008)])
    # F's block going west is not allowed on the top row: the path drops to the bottom row.
    assert min(lat for _, lat in coords) == pytest.approx(0.0, abs=1e-9)
    assert coords[0] == pytest.approx((0.002, 0.0008), abs=1e-6)
    assert coords[-1] == pytest.approx((0.0, 0.0008), abs=1e-6)


def test_a_graph_without_edges_is_refused():
    with pytest.raises(NetworkError, match="needs nodes and edges"):
        StreetGraph.from_edges([(1, 0.0, 0.0)], [], source_kind="literal", name="empty")


def test_derived_streets_link_consecutive_intersections_and_skip_big_gaps():
    rows = [Intersection("N MAIN ST", f"W {k} ST", 0.0, 0.001 * k) for k in range(4)]
    rows.append(Intersection("S MAIN ST", "W FAR ST", 0.0, 0.05))  # 5 km further: not linked
    g, counts = derive_from_intersections(rows)
    assert g.approximate and g.source_kind == "derived"
    assert counts["edges"] == 6  # three blocks, both ways
    assert counts["gaps_not_linked"] == 1


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "chicago" / "osm"


@pytest.mark.chicago
def test_the_loop_fixture_loads_strongly_connected():
    g, counts = load_osm(FIXTURES / "chicago_loop_2026.osm.bz2")
    n_components, _ = connected_components(g.packed_csr(), directed=True, connection="strong")
    assert n_components == 1 and g.node_count <= counts["osmnx_nodes"]  # the largest strongly connected part
    assert g.node_count < counts["osm_nodes"] / 2  # simplified: only corners and dead ends are nodes
    classes = {part for c in g.edge_class if c for part in c.split("/")}  # a merged edge lists each of its ways
    assert "service" in classes and classes <= NetworkConfig().drivable  # drivable, service roads included
    assert g.attribution.startswith("© OpenStreetMap contributors")
    assert counts["drivable_ways"] > 1000
