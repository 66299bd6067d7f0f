"""Street networks as recorded layers: import once, reload identically, and answer from the right one."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.models import LayerKind, LayerVersion, StreetEdge
from routing.matrix import travel_matrix
from routing.network import NetworkConfig, NetworkError, StreetNetworkSpec
from routing.streets import graph_from_version, import_street_network, street_graph_for

pytestmark = pytest.mark.django_db

# A tiny OSM file: a two-way residential street A-B-C and a one-way D->E on the next block north,
# joined by two-way links A-D and C-E, plus a footway that a crew vehicle must not use.
OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" lat="0.0" lon="0.0"/><node id="2" lat="0.0" lon="0.001"/><node id="3" lat="0.0" lon="0.002"/>
 <node id="4" lat="0.001" lon="0.0"/><node id="5" lat="0.001" lon="0.002"/><node id="6" lat="0.0005" lon="0.001"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/><tag k="name" v="Main"/></way>
 <way id="11"><nd ref="4"/><nd ref="5"/><tag k="highway" v="residential"/><tag k="oneway" v="yes"/></way>
 <way id="12"><nd ref="1"/><nd ref="4"/><tag k="highway" v="residential"/></way>
 <way id="13"><nd ref="3"/><nd ref="5"/><tag k="highway" v="residential"/></way>
 <way id="14"><nd ref="2"/><nd ref="6"/><tag k="highway" v="footway"/></way>
</osm>
"""

CSV = "street_1,street_2,longitude,latitude\nN MAIN ST,W 1ST ST,10.0,10.0\nS MAIN ST,W 2ND ST,10.0,10.002\n"


@pytest.fixture
def tiny_osm(tmp_path: Path) -> StreetNetworkSpec:
    path = tmp_path / "tiny.osm"
    path.write_text(OSM)
    return StreetNetworkSpec(kind="osm", name="tiny osm", path=path, source="test", licence="ODbL")


@pytest.fixture
def tiny_derived(tmp_path: Path) -> StreetNetworkSpec:
    path = tmp_path / "corners.csv"
    path.write_text(CSV)
    return StreetNetworkSpec(kind="derived", name="tiny citywide", path=path)


def test_an_osm_network_is_recorded_once_and_reloads_the_same(tiny_osm):
    report = import_street_network(tiny_osm, NetworkConfig())
    version = LayerVersion.objects.get(pk=report.version_id)
    assert version.kind == LayerKind.STREETS and version.active
    assert version.report["attribution"].startswith("© OpenStreetMap contributors")
    assert not StreetEdge.objects.filter(layer_version=version, street_class="footway").exists()
    again = import_street_network(tiny_osm, NetworkConfig())
    assert again.unchanged and again.version_id == report.version_id
    graph = graph_from_version(version)
    assert graph.edge_count == version.feature_count
    tm = travel_matrix(graph, [("west", 0.0, 0.001), ("east", 0.002, 0.001)], use_cache=False)
    assert tm.unroutable == [] and 0 < tm.seconds[0, 1] < tm.seconds[1, 0]  # the one-way helps eastbound


def test_the_network_that_covers_the_points_answers_and_says_so(tiny_osm, tiny_derived):
    import_street_network(tiny_osm, NetworkConfig())
    import_street_network(tiny_derived, NetworkConfig())
    inside = street_graph_for([(0.001, 0.0005)])
    assert (inside.source_kind, inside.approximate) == ("osm", False)
    elsewhere = street_graph_for([(10.0, 10.001)])
    assert (elsewhere.source_kind, elsewhere.approximate) == ("derived", True)
    assert travel_matrix(elsewhere, [("a", 10.0, 10.0)]).network["approximate"] is True


def test_without_any_network_the_error_says_how_to_load_one(db):
    with pytest.raises(NetworkError, match="load_streets"):
        street_graph_for([(0.0, 0.0)])


def test_a_file_that_is_not_osm_is_refused_with_nothing_written(tmp_path):
    bad = tmp_path / "bad.osm"
    bad.write_text("<osm><way id='1'><nd ref='1'/>")
    with pytest.raises(NetworkError, match="not a readable OSM XML file"):
        import_street_network(StreetNetworkSpec(kind="osm", name="bad", path=bad), NetworkConfig())
    assert not LayerVersion.objects.exists()


def as_pbf(xml: Path) -> Path:
    """The same OSM data written as PBF by pyosmium (what Geofabrik hands out)."""
    import osmium

    out = xml.with_suffix(".osm.pbf")
    with osmium.SimpleWriter(str(out)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    return out


def test_a_pbf_file_loads_the_same_network_as_its_xml(tiny_osm):
    from routing.network import load_osm

    xml_graph, _ = load_osm(tiny_osm.path)
    pbf_graph, counts = load_osm(as_pbf(tiny_osm.path))
    assert (pbf_graph.node_count, pbf_graph.edge_count) == (xml_graph.node_count, xml_graph.edge_count)
    assert pbf_graph.edge_count > 0
    assert sorted(pbf_graph.edge_name) == sorted(xml_graph.edge_name) and counts["drivable_ways"] == 4


def test_unreadable_files_are_refused_naming_the_file_and_the_line(tmp_path):
    bad = tmp_path / "broken.osm"
    bad.write_text('<?xml version="1.0"?>\n<osm>\n <node id="1" lat="0" lon="0"/>\n <way id="2"><nd ref="1"</way>\n')
    with pytest.raises(NetworkError, match=r"broken\.osm: not a readable OSM XML file: .*line 4"):
        import_street_network(StreetNetworkSpec(kind="osm", name="broken", path=bad), NetworkConfig())
    fake = tmp_path / "fake.osm.pbf"
    fake.write_bytes(b"this is not a protocol buffer" * 10)
    with pytest.raises(NetworkError, match=r"fake\.osm\.pbf: not a readable OSM PBF file"):
        import_street_network(StreetNetworkSpec(kind="osm", name="fake", path=fake), NetworkConfig())
    assert not LayerVersion.objects.exists()


CROSSING = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" lat="0.500" lon="0.499"/><node id="2" lat="0.500" lon="0.500"/><node id="3" lat="0.500" lon="0.501"/>
 <node id="4" lat="0.499" lon="0.500"/><node id="5" lat="0.501" lon="0.500"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/>
  <tag k="name" v="Valencia Street"/></way>
 <way id="11"><nd ref="4"/><nd ref="2"/><nd ref="5"/><tag k="highway" v="residential"/>
  <tag k="name" v="18th Street"/></way>
</osm>
"""


def test_reverse_names_the_corner_of_an_osm_network(tmp_path, two_square_wards):
    """An OSM network has no corner table: the corners are where its named streets meet."""
    from layers import geocoding

    path = tmp_path / "crossing.osm"
    path.write_text(CROSSING)
    import_street_network(StreetNetworkSpec(kind="osm", name="crossing", path=path), NetworkConfig())
    geocoding.clear_cache()
    here = geocoding.reverse(0.50005, 0.50010)
    assert here["intersection"] == "near 18TH ST & VALENCIA ST" and here["intersection_m"] < 15
    assert (here["kind"], here["address"], here["ward"]) == ("intersection", "18TH ST & VALENCIA ST", 1)
    geocoding.clear_cache()


def test_the_street_overlay_carries_the_networks_attribution(client, tiny_osm):
    import json

    import_street_network(tiny_osm, NetworkConfig())
    body = json.loads(client.get("/layers/streets.geojson", {"bbox": "-0.001,-0.001,0.003,0.002"}).content)
    assert body["features"] and body["networks"][0]["attribution"].startswith("© OpenStreetMap contributors")
    assert client.get("/layers/streets.geojson", {"bbox": "0,0,1,1"}).status_code == 400  # too large
    assert client.get("/layers/streets.geojson", {"bbox": "a,b"}).status_code == 400


ELBOW = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" lat="0.500" lon="0.499"/><node id="2" lat="0.500" lon="0.500"/><node id="3" lat="0.501" lon="0.500"/>
 <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/><tag k="name" v="18th Street"/></way>
 <way id="11"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/><tag k="name" v="Utah Street"/></way>
</osm>
"""


def test_a_street_that_turns_into_another_keeps_its_corner(tmp_path, two_square_wards):
    """Where 18th St becomes Utah St only two ways meet, yet it is a corner callers name: the graph keeps it."""
    from layers import geocoding

    path = tmp_path / "elbow.osm"
    path.write_text(ELBOW)
    import_street_network(StreetNetworkSpec(kind="osm", name="elbow", path=path), NetworkConfig())
    assert sorted(StreetEdge.objects.values_list("name", flat=True).distinct()) == ["18th Street", "Utah Street"]
    geocoding.clear_cache()
    corner = geocoding.geocode("18th St & Utah St")
    assert (corner.status, corner.kind) == ("matched", "intersection")
    assert (round(corner.lon, 6), round(corner.lat, 6)) == (0.5, 0.5)
    geocoding.clear_cache()
