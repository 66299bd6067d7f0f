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

from routing.network.derived import Intersection, base_street_name, derive_from_intersections, read_intersections
from routing.network.graph import (
    DEFAULT_SNAP_METRES,
    NetworkConfig,
    NetworkError,
    Snap,
    StreetGraph,
    Unroutable,
)
from routing.network.manifest import StreetNetworkSpec, build_graph, read_streets_manifest
from routing.network.osm import filter_drivable_osm, load_osm

__all__ = [
    "DEFAULT_SNAP_METRES",
    "Intersection",
    "NetworkConfig",
    "NetworkError",
    "Snap",
    "StreetGraph",
    "StreetNetworkSpec",
    "Unroutable",
    "base_street_name",
    "build_graph",
    "derive_from_intersections",
    "filter_drivable_osm",
    "load_osm",
    "read_intersections",
    "read_streets_manifest",
]
