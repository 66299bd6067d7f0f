"""Forward geocoding on a literal street layer and a literal address grid.

The little city: State St (0 E/W) at lon 0.500 and Ashland Ave (1600 W) at lon 0.494 run north-south;
Madison St (0 N/S) at lat 0.500, Division St (1200 N) at lat 0.505 and Roosevelt Rd (1200 S) at lat
0.495 run east-west; State St and Ashland Ave also reach Top St far north, outside the wards (lat 1.2).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from layers import geocoding
from layers.coords import local_metres
from layers.normalize import parse
from tests.conftest import LITTLE_GRID as GRID
from tests.conftest import NO_GRID

pytestmark = pytest.mark.django_db

CORNERS = [
    ("N STATE ST", "W MADISON ST", 0.500, 0.500, "60602"),
    ("N STATE ST", "W DIVISION ST", 0.500, 0.505, "60610"),
    ("S STATE ST", "W ROOSEVELT RD", 0.500, 0.495, "60605"),
    ("N ASHLAND AVE", "W MADISON ST", 0.494, 0.500, ""),
    ("N ASHLAND AVE", "W DIVISION ST", 0.494, 0.505, ""),
    ("S ASHLAND AVE", "W ROOSEVELT RD", 0.494, 0.495, ""),
    ("N STATE ST", "W TOP ST", 0.500, 1.2, ""),
    ("N ASHLAND AVE", "W TOP ST", 0.494, 1.2, ""),
    ("N STATE ST", "E LONELY LN", 0.500, 0.5025, "60610"),
]  # a street with a single corner


@pytest.fixture
def little_city(grid_city):  # type: ignore[no-untyped-def]
    grid_city("little city", CORNERS, GRID)


def test_a_house_number_lands_between_the_grid_streets_on_its_street(little_city):
    r = geocoding.geocode("600 N State St")
    assert (r.status, r.kind, r.address, r.ward) == ("matched", "interpolated", "600 N STATE ST", 1)
    assert r.lon == pytest.approx(0.500, abs=1e-6) and r.lat == pytest.approx(0.5025, abs=1e-6)
    west = geocoding.geocode("800 W Division St")
    assert west.lon == pytest.approx(0.497, abs=1e-6) and west.lat == pytest.approx(0.505, abs=1e-6)


def test_spelling_typos_and_a_city_tail_are_forgiven(little_city, settings):
    settings.CITY_NAME = "Springfield"  # the tail names this city; another town's would be outside (issue 20)
    for text in ("600 north state street, Springfield, IL 62701", "600 N Stat St", "600 n STATE"):
        r = geocoding.geocode(text)
        assert r.status == "matched" and r.address == "600 N STATE ST", text


def test_a_missing_direction_that_fits_both_ways_is_ambiguous_with_both_candidates(little_city):
    r = geocoding.geocode("600 State St")
    assert r.status == "ambiguous" and sorted(c["address"] for c in r.candidates) == [
        "600 N STATE ST",
        "600 S STATE ST",
    ]


def test_the_postcode_settles_a_missing_direction(little_city):
    r = geocoding.geocode("900 State St, Chicago, IL 60605")
    assert r.status == "matched" and r.address == "900 S STATE ST"


def test_a_street_with_a_single_corner_is_still_found(little_city):
    r = geocoding.geocode("Lonely Ln & State")
    assert r.status == "matched" and (r.lon, r.lat) == (pytest.approx(0.5), pytest.approx(0.5025))


def test_intersections_in_their_written_forms(little_city):
    for text in ("State & Division", "Division and Ashland", "N STATE ST / W MADISON ST", "Madison at State"):
        r = geocoding.geocode(text)
        assert (r.status, r.kind) == ("matched", "intersection"), text
    corner = geocoding.geocode("Ashland & Roosevelt")
    assert (corner.lon, corner.lat) == (pytest.approx(0.494), pytest.approx(0.495))


def test_places_outside_the_city_or_the_street_are_refused_with_a_reason(little_city):
    outside = geocoding.geocode("State & Top")
    assert outside.status == "unmatched" and "outside the city" in outside.message
    beyond = geocoding.geocode("199000 N Ashland Ave")
    assert beyond.status == "unmatched" and "outside the numbers" in beyond.message
    nowhere = geocoding.geocode("12 Nowhere Lane")
    assert nowhere.status == "unmatched" and "no street named" in nowhere.message
    assert "house number or a second street" in geocoding.geocode("Ashland Ave").message
    assert geocoding.geocode("   ").message == "empty address"


def test_the_parser_normalises_directions_types_and_ordinals():
    p = parse("1234 north Ashland Avenue")
    assert (p.number, p.street.direction, p.street.name, p.street.type) == (1234, "N", "ASHLAND", "AVE")
    assert parse("100 W 63rd Street").street.key == "63RD ST"
    assert parse("63rd st and halsted").cross.name == "HALSTED"
    assert parse("850 n lake shore, Chicago, IL 60611").street.key == "LAKE SHORE"  # not LAKE with type SHORE
    assert parse("3059 Saint Louis Ave").street.key == "ST LOUIS AVE"
    # A direction word with only a type after it is the street's name, not its direction.
    south = parse("Intersection of SOUTH ST and TERRY A FRANCOIS BLVD").street
    assert (south.direction, south.key) == ("", "SOUTH ST")
    assert parse("100 North Ave").street.key == "NORTH AVE"


def test_the_parser_reads_what_311_exports_really_hold():
    corner = parse("Intersection of GRANT AVE and LOMBARD ST")
    assert (corner.street.key, corner.cross.key) == ("GRANT AVE", "LOMBARD ST")
    assert parse("Corner of Clark & Division").street.name == "CLARK"
    tail = parse("2820 GREENWICH ST, SAN FRANCISCO, CA, 94123", city="San Francisco")
    assert (tail.number, tail.street.key, tail.postcode, tail.unused) == (2820, "GREENWICH ST", "94123", "")
    no_commas = parse("2820 GREENWICH ST SAN FRANCISCO CA 94123", city="San Francisco")
    assert (no_commas.street.key, no_commas.postcode, no_commas.unused) == ("GREENWICH ST", "94123", "")
    assert parse("131-137 Main St").number == 131 and parse("131 - 137 Main St").number == 131
    unit = parse(" 330 CLEMENTINA ST, Apt 921, SAN FRANCISCO, CA, 94118", city="San Francisco")
    assert (unit.number, unit.street.key, unit.unused) == (330, "CLEMENTINA ST", "")
    assert parse("1234 N Ashland Ave Unit 3").street.key == "ASHLAND AVE"


def test_the_command_and_the_api_answer_in_one_json_shape(little_city, tmp_path, client):
    lines = tmp_path / "in.txt"
    lines.write_text("600 N State St\nState & Division\n12 Nowhere Lane\n")
    out = io.StringIO()
    call_command("geocode", str(lines), stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["status"] for r in rows] == ["matched", "matched", "unmatched"]
    assert set(rows[0]) >= {"input", "status", "kind", "lon", "lat", "score", "address", "ward", "candidates"}
    api = client.get("/api/geocode/", {"q": "600 N State St"}).json()
    assert api["address"] == "600 N STATE ST" and api["ward"] == 1
    assert client.get("/api/geocode/", {"q": ""}).status_code == 400


def test_reverse_names_the_nearest_corner_and_the_grid_number(little_city):
    r = geocoding.reverse(0.500, 0.5025)
    assert r["intersection"] == "near N STATE ST & E LONELY LN" and r["ward"] == 1
    assert r["address"] == "600 N STATE ST"


def test_intake_places_an_address_and_names_a_pin(little_city, pothole, intake_clerk):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(intake_clerk)
    by_address = api.post(
        "/api/requests/",
        {"service_code": "pothole", "address": "600 N State St", "attributes": {"where": "curb"}},
        format="json",
    ).json()
    assert (by_address["lat"], by_address["located_by"], by_address["ward_number"]) == (
        pytest.approx(0.5025),
        "address",
        1,
    )
    by_pin = api.post(
        "/api/requests/",
        {"service_code": "pothole", "lon": 0.5, "lat": 0.5025, "attributes": {"where": "curb"}},
        format="json",
    ).json()
    assert by_pin["address"] == "600 N STATE ST"
    vague = api.post(
        "/api/requests/",
        {"service_code": "pothole", "address": "600 State St", "attributes": {"where": "curb"}},
        format="json",
    )
    assert (
        vague.status_code == 400
        and "ambiguous" in vague.json()["detail"]
        and "600 S STATE ST" in vague.json()["detail"]
    )


OA = """LON,LAT,NUMBER,STREET,UNIT,CITY,POSTCODE
0.5001,0.5026,600,N State St,,Little City,60610
0.4999,0.4974,600,S State Street,,Little City,60605
x,0.5,12,Bad Row,,,
0.5,0.5,,No Number St,,,
"""

OSM_ADDR = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" lat="0.50300" lon="0.50010"><tag k="addr:housenumber" v="700"/>
  <tag k="addr:street" v="North State Street"/></node>
 <node id="2" lat="0.50310" lon="0.50020"/><node id="3" lat="0.50330" lon="0.50040"/>
 <way id="9"><nd ref="2"/><nd ref="3"/><tag k="building" v="yes"/><tag k="addr:housenumber" v="710"/>
  <tag k="addr:street" v="N State St"/></way>
 <node id="4" lat="0.5" lon="0.5"><tag k="addr:housenumber" v="1"/></node>
</osm>
"""


def test_address_points_load_once_and_win_over_the_grid(little_city, tmp_path):
    from layers.addresses import import_addresses
    from layers.models import AddressPoint

    path = tmp_path / "addresses.csv"
    path.write_text(OA)
    dry = import_addresses(path, kind="openaddresses", name="test points", dry_run=True)
    assert dry.loaded == 2 and AddressPoint.objects.count() == 0
    report = import_addresses(path, kind="openaddresses", name="test points")
    assert report.loaded == 2 and report.skipped == {"bad coordinates": 1, "no house number or street": 1}
    assert import_addresses(path, kind="openaddresses", name="test points").unchanged
    geocoding.clear_cache()
    r = geocoding.geocode("600 N State St")
    assert (r.kind, r.lon, r.lat) == ("point", pytest.approx(0.5001), pytest.approx(0.5026))
    both = geocoding.geocode("600 State St")
    assert both.status == "ambiguous" and both.kind == "point" and len(both.candidates) == 2
    assert geocoding.geocode("600 State St 60605").address == "600 S STATE ST"


def test_osm_address_tags_on_nodes_and_buildings_load(little_city, tmp_path):
    from layers.addresses import import_addresses

    path = tmp_path / "addr.osm"
    path.write_text(OSM_ADDR)
    report = import_addresses(path, kind="osm", name="osm points")
    assert report.loaded == 2 and report.skipped == {"no addr:street": 1}
    geocoding.clear_cache()
    way = geocoding.geocode("710 N State St")
    assert way.kind == "point" and way.lat == pytest.approx(0.5032)


def test_a_building_drawn_as_a_relation_gives_its_address_at_its_middle(little_city, tmp_path):
    from layers.addresses import import_addresses

    path = tmp_path / "relation.osm"
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">
 <node id="1" lat="0.5030" lon="0.5002"/><node id="2" lat="0.5030" lon="0.5006"/>
 <node id="3" lat="0.5034" lon="0.5006"/><node id="4" lat="0.5034" lon="0.5002"/>
 <way id="7"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/></way>
 <relation id="8"><member type="way" ref="7" role="outer"/><tag k="type" v="multipolygon"/>
  <tag k="building" v="yes"/><tag k="addr:housenumber" v="720"/><tag k="addr:street" v="N State St"/></relation>
</osm>"""
    )
    assert import_addresses(path, kind="osm", name="relations").loaded == 1
    geocoding.clear_cache()
    found = geocoding.geocode("720 N State St")
    assert found.kind == "point" and (found.lon, found.lat) == (pytest.approx(0.5004), pytest.approx(0.5032))


def test_osm_address_points_load_from_pbf_as_from_xml(little_city, tmp_path):
    import osmium

    from layers.addresses import import_addresses

    xml = tmp_path / "addr.osm"
    xml.write_text(OSM_ADDR)
    pbf = tmp_path / "addr.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    report = import_addresses(pbf, kind="osm", name="osm points from pbf")
    assert report.loaded == 2 and report.skipped == {"no addr:street": 1}
    geocoding.clear_cache()
    assert geocoding.geocode("700 N State St").kind == "point"


def test_address_files_that_cannot_be_read_name_the_file_and_the_line(db, tmp_path):
    from layers.addresses import AddressImportError, import_addresses
    from layers.models import LayerVersion

    broken = tmp_path / "broken.osm"
    broken.write_text('<?xml version="1.0"?>\n<osm>\n<node id="1" lat="0" lon="0">\n</osm>')
    with pytest.raises(AddressImportError, match=r"broken\.osm: not a readable OSM XML file: .*line 4"):
        import_addresses(broken, kind="osm", name="broken")
    csv = tmp_path / "points.csv"
    csv.write_bytes(b"LON,LAT,NUMBER,STREET\n0.5,0.5,1,Main St\n0.5,0.5,2,Ma\xffin St\n")
    with pytest.raises(AddressImportError, match=r"points\.csv line 3: not UTF-8 text"):
        import_addresses(csv, kind="openaddresses", name="points")
    assert not LayerVersion.objects.exists()


RANGES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {
                "FULLNAME": "Oak St",
                "LFROMHN": "101",
                "LTOHN": "199",
                "RFROMHN": "100",
                "RTOHN": "198",
                "ZIPL": "60601",
                "ZIPR": "60601",
            },
            "geometry": {"type": "LineString", "coordinates": [[0.600, 0.600], [0.601, 0.600]]},
        },
        {
            "type": "Feature",
            "properties": {
                "FULLNAME": "Oak St",
                "LFROMHN": "201",
                "LTOHN": "299",
                "RFROMHN": "200",
                "RTOHN": "298",
                "ZIPL": "60601",
                "ZIPR": "60601",
            },
            "geometry": {"type": "LineString", "coordinates": [[0.601, 0.600], [0.602, 0.600]]},
        },
    ],
}


CHICAGO_CENTRELINES = Path(__file__).resolve().parent.parent / "fixtures" / "chicago" / "centreline_fields.toml"


def test_ranged_centrelines_interpolate_on_the_side_of_the_numbers_parity(little_city, tmp_path):
    from layers.ranges import import_ranges

    path = tmp_path / "tiger.geojson"
    path.write_text(json.dumps(RANGES))
    report = import_ranges(path, fields="tiger", name="test ranges")
    assert report.loaded == 2 and import_ranges(path, fields="tiger", name="test ranges").unchanged
    geocoding.clear_cache()
    odd = geocoding.geocode("150 Oak St")  # even: right of travel (east-bound): south of the line
    assert odd.kind == "interpolated" and odd.lon == pytest.approx(0.6005, abs=2e-5) and odd.lat < 0.600
    left = geocoding.geocode("251 Oak St")  # odd, second block: left of travel: north of the line
    assert left.lon == pytest.approx(0.6015, abs=2e-5) and left.lat > 0.600
    with pytest.raises(Exception, match="missing field"):
        import_ranges(path, fields=CHICAGO_CENTRELINES, name="wrong layout")
    with pytest.raises(Exception, match="left_from and name"):
        import_ranges(path, fields={"from": "LFROMHN"}, name="no such key")


def test_the_city_of_chicago_centreline_layout_loads_with_its_split_name_fields(little_city, tmp_path):
    """The City's own file names a street in four fields (PRE_DIR, STREET_NAM, STREET_TYP, SUF_DIR), named in the
    city's column file (data, not code); its ranges place numbers as the TIGER layout's do, and the direction
    keeps N Oak apart from S Oak."""
    from layers.ranges import import_ranges

    features = []
    for f in RANGES["features"]:  # type: ignore[index]
        p = f["properties"]
        features.append(
            {
                "type": "Feature",
                "geometry": f["geometry"],
                "properties": {
                    "PRE_DIR": "N",
                    "STREET_NAM": "OAK",
                    "STREET_TYP": "ST",
                    "SUF_DIR": None,
                    "L_F_ADD": p["LFROMHN"],
                    "L_T_ADD": p["LTOHN"],
                    "R_F_ADD": p["RFROMHN"],
                    "R_T_ADD": p["RTOHN"],
                    "L_ZIP": "60601",
                    "R_ZIP": "60601",
                },
            }
        )
    path = tmp_path / "centerlines.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    report = import_ranges(path, fields=CHICAGO_CENTRELINES, name="city centrelines")
    assert report.loaded == 2 and not report.skipped
    geocoding.clear_cache()
    found = geocoding.geocode("251 North Oak Street")
    assert found.kind == "interpolated" and found.address == "251 N OAK ST"
    assert found.lon == pytest.approx(0.6015, abs=2e-5) and found.lat > 0.600  # odd: left of travel
    assert geocoding.geocode("251 S Oak St").kind != "interpolated"  # no south Oak St in the ranges


def test_address_points_teach_where_numbers_sit_inside_a_block(little_city, tmp_path):
    """A surveyor's points on State St (first lot 10 % into each hundred-block, then 1.8 % of it per number)
    move Ashland's interpolated numbers from the even spread to where the city's lots really are."""
    from layers.addresses import import_addresses

    hundred = 0.005 / 12  # latitude of one hundred-block in the little city
    rows = [
        f"0.5001,{0.5 + k * hundred + min(0.1 + 0.018 * r, 0.95) * hundred:.7f},{100 * k + r},N State St,,,"
        for k in range(12)
        for r in range(0, 50, 2)
    ]
    path = tmp_path / "lots.csv"
    path.write_text("LON,LAT,NUMBER,STREET,UNIT,CITY,POSTCODE\n" + "\n".join(rows) + "\n")
    before = geocoding.geocode("624 N Ashland Ave")
    assert before.lat == pytest.approx(0.5025 + 0.24 * hundred, abs=1e-7)  # no points yet: an even spread
    import_addresses(path, kind="openaddresses", name="lot survey")
    geocoding.clear_cache()
    after = geocoding.geocode("624 N Ashland Ave")
    assert after.kind == "interpolated" and geocoding.index().grid.profile.source.startswith("fitted")
    assert after.lat == pytest.approx(0.5025 + (0.1 + 0.018 * 24) * hundred, abs=0.02 * hundred)
    assert geocoding.reverse(0.494, after.lat)["address"] == "624 N ASHLAND AVE"


OSM_INTERPOLATION = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="10" lat="0.50300" lon="0.50020"><tag k="addr:housenumber" v="700"/>
  <tag k="addr:street" v="North State Street"/></node>
 <node id="11" lat="0.50310" lon="0.50020"/>
 <node id="12" lat="0.50320" lon="0.50020"><tag k="addr:housenumber" v="720"/>
  <tag k="addr:street" v="North State Street"/></node>
 <node id="13" lat="0.50300" lon="0.50030"><tag k="addr:housenumber" v="701"/></node>
 <node id="14" lat="0.50320" lon="0.50030"><tag k="addr:housenumber" v="722"/></node>
 <way id="20"><nd ref="10"/><nd ref="11"/><nd ref="12"/><tag k="addr:interpolation" v="even"/></way>
 <way id="21"><nd ref="13"/><nd ref="14"/><tag k="addr:interpolation" v="odd"/>
  <tag k="addr:street" v="N State St"/></way>
 <way id="22"><nd ref="10"/><nd ref="12"/><tag k="addr:interpolation" v="alphabetic"/></way>
</osm>
"""


def test_an_osm_interpolation_way_stands_for_every_house_between_its_ends(little_city, tmp_path):
    from layers.addresses import import_addresses

    path = tmp_path / "interpolation.osm"
    path.write_text(OSM_INTERPOLATION)
    report = import_addresses(path, kind="osm", name="osm interpolation")
    # 700 and 720 themselves, and 702 … 718 between them (9); the odd way's ends differ in parity.
    assert (report.loaded, report.interpolated) == (11, 9)
    assert report.skipped == {
        "no addr:street": 2,
        "interpolation ends that do not make a range": 1,
        "addr:interpolation=alphabetic (expected odd, even, all or a step)": 1,
    }
    geocoding.clear_cache()
    middle = geocoding.geocode("710 N State St")
    assert (middle.kind, middle.lon, middle.lat) == ("point", pytest.approx(0.5002), pytest.approx(0.5031))
    assert geocoding.geocode("704 N State St").lat == pytest.approx(0.50304)


def test_reverse_answers_in_the_forward_shape_with_the_side_community_area_and_ward_edge(
    little_city, load_wards, tmp_path
):
    from layers.addresses import import_addresses
    from layers.models import LayerKind
    from tests.conftest import WEST_SQUARE, collection, feature

    load_wards(
        collection(feature("35", WEST_SQUARE, community="NEAR NORTH")), kind=LayerKind.COMMUNITY_AREAS, name="areas"
    )
    west = geocoding.reverse(0.49990, 0.5025)  # 8 m west of State St: the even side
    east = geocoding.reverse(0.50010, 0.5025)
    assert (west["status"], west["kind"], west["address"]) == ("matched", "interpolated", "600 N STATE ST")
    assert east["address"] == "601 N STATE ST"
    assert set(west) >= {"input", "status", "kind", "lon", "lat", "score", "address", "ward", "candidates"}
    assert west["community_area"]["number"] == 35 and west["ward"] == 1
    assert west["ward_edge_m"] == pytest.approx(55_300, rel=0.01)  # 0.4999° to the ward's west edge at x=0
    assert west["near_ward_edge"] is False and geocoding.reverse(0.9999, 0.5)["near_ward_edge"] is True  # 11 m
    path = tmp_path / "addresses.csv"
    path.write_text(OA)
    import_addresses(path, kind="openaddresses", name="test points")
    geocoding.clear_cache()
    by_point = geocoding.reverse(0.50012, 0.50258)
    assert (by_point["kind"], by_point["address"]) == ("point", "600 N STATE ST") and by_point["address_m"] < 5
    outside = geocoding.reverse(0.5, 1.2)  # Top St: named, but outside every ward
    assert outside["status"] == "unmatched" and outside["ward"] is None and "outside" in outside["message"]
    far = geocoding.reverse(3.0, 3.0)  # hundreds of km from any corner: nothing is named
    assert far["kind"] == "none" and far["address"] == "" and "no named street corner within 500 m" in far["message"]


def test_partial_input_gets_ranked_completions(little_city, client):
    body = client.get("/api/geocode/", {"q": "600 n sta", "suggest": 3}).json()
    assert body["suggestions"][0]["address"] == "600 N STATE ST" and body["suggestions"][0]["ward"] == 1
    assert [s["address"] for s in geocoding.suggest("state & div")] == ["STATE ST & DIVISION ST"]
    assert [s["address"] for s in geocoding.suggest("800 w divsion")] == ["800 W DIVISION ST"]  # a typo
    assert "suggestions" not in client.get("/api/geocode/", {"q": "600 N State St"}).json()
    assert client.get("/api/geocode/", {"q": "600 n sta", "suggest": "many"}).status_code == 400
    assert client.get("/api/geocode/", {"q": "600 n sta", "suggest": 50}).status_code == 400


def test_an_address_point_on_one_half_of_a_street_leaves_a_missing_direction_ambiguous(little_city, tmp_path):
    from layers.addresses import import_addresses

    path = tmp_path / "one_point.csv"
    path.write_text("LON,LAT,NUMBER,STREET\n0.5001,0.5026,600,N State St\n")
    import_addresses(path, kind="openaddresses", name="one point")
    geocoding.clear_cache()
    r = geocoding.geocode("600 State St")  # a point for the north half only; the grid still has 600 S
    assert r.status == "ambiguous" and [c["address"] for c in r.candidates] == ["600 N STATE ST", "600 S STATE ST"]
    assert geocoding.geocode("600 N State St").status == "matched"


def test_the_grid_gives_ranged_centrelines_that_read_back_as_a_ranges_layer(little_city, tmp_path):
    from layers.ranges import import_ranges

    collection = geocoding.grid_ranges()
    blocks = set()
    for f in collection["features"]:
        p, line = f["properties"], f["geometry"]["coordinates"]
        if p["FULLNAME"] != "N STATE ST" or max(p["LFROMHN"], p["LTOHN"]) >= 1200:
            continue
        left, right = sorted((p["LFROMHN"], p["LTOHN"])), sorted((p["RFROMHN"], p["RTOHN"]))
        evens, odds = (left, right) if left[0] % 2 == 0 else (right, left)
        blocks.add((tuple(evens), tuple(odds)))
        northbound = line[-1][1] > line[0][1]
        assert (left is evens) == northbound  # evens on the west: the left going north, the right going south
    # Madison (0) → Lonely Ln (600) → Division (1200): each block's numbers, a number on a corner starting one.
    assert blocks == {((0, 598), (1, 599)), ((600, 1198), (601, 1199))}
    path = tmp_path / "grid_ranges.geojson"
    out = io.StringIO()
    call_command("export_ranges", str(path), stdout=out)
    assert "11 segments" in out.getvalue() and json.loads(path.read_text()) == collection
    report = import_ranges(path, fields="tiger", name="grid ranges")
    assert report.loaded == len(collection["features"]) and "ranged centreline segments" in report.lines()[0]
    geocoding.clear_cache()
    r = geocoding.geocode("300 N State St")
    assert r.kind == "interpolated" and r.lat == pytest.approx(0.50125, abs=5e-5) and r.lon < 0.5  # west: even


def test_switching_the_active_address_layer_changes_answers_and_switching_back_restores_them(little_city, tmp_path):
    from layers.addresses import import_addresses
    from layers.models import LayerVersion

    first, second = tmp_path / "survey_2025.csv", tmp_path / "survey_2026.csv"
    first.write_text("LON,LAT,NUMBER,STREET\n0.5001,0.5026,600,N State St\n")
    second.write_text("LON,LAT,NUMBER,STREET\n0.5001,0.5027,600,N State St\n")  # the door moved
    older = import_addresses(first, kind="openaddresses", name="survey")
    assert geocoding.geocode("600 N State St").lat == pytest.approx(0.5026)
    newer = import_addresses(second, kind="openaddresses", name="survey")  # replaces the first
    assert geocoding.geocode("600 N State St").lat == pytest.approx(0.5027)
    call_command("layer_version", "activate", str(older.version_id), stdout=io.StringIO())  # switch back
    assert geocoding.geocode("600 N State St").lat == pytest.approx(0.5026)
    call_command("layer_version", "rollback", "addresses", stdout=io.StringIO())  # undo the switch
    assert geocoding.geocode("600 N State St").lat == pytest.approx(0.5027)
    call_command("layer_version", "retire", str(newer.version_id), stdout=io.StringIO())
    assert LayerVersion.objects.filter(kind="addresses", active=True).count() == 0
    grid = geocoding.geocode("600 N State St")  # no address layer: the grid answers
    assert (grid.kind, grid.lat) == ("interpolated", pytest.approx(0.5025))


def test_a_missing_number_lands_between_its_neighbouring_address_points(little_city, tmp_path):
    from layers.addresses import import_addresses

    path = tmp_path / "neighbours.csv"
    path.write_text(
        "LON,LAT,NUMBER,STREET\n0.4999,0.50260,600,N State St\n0.4999,0.50270,610,N State St\n"
        "0.5001,0.50265,605,N State St\n"
    )  # 605 is across the street: not a neighbour of 604
    import_addresses(path, kind="openaddresses", name="neighbours")
    geocoding.clear_cache()
    r = geocoding.geocode("604 N State St")
    assert (r.kind, r.lon, r.lat) == ("interpolated", pytest.approx(0.4999), pytest.approx(0.50264))
    alone = geocoding.geocode("612 N State St")  # nothing above it on its side: the grid places it along the
    # street, on the building line its neighbour 610 stands on (layers.geocoding.nudge)
    assert alone.lon == pytest.approx(0.4999) and alone.lat == pytest.approx(0.5025 + 0.12 * 0.005 / 12, abs=1e-6)


def test_a_number_the_grid_places_stands_on_its_nearest_neighbours_building_line(little_city, tmp_path):
    """Towers set back 0.0003° (about 33 m) west of State St, where the grid puts numbers on the centreline:
    a number with no known point either side of it is moved across the street as its nearest known neighbour
    on the same side is, never along it (the grid is right about where a number falls), and only by a
    neighbour within nudge.REACH numbers."""
    from layers.addresses import import_addresses
    from layers.geocoding import nudge

    path = tmp_path / "towers.csv"
    path.write_text(
        "LON,LAT,NUMBER,STREET\n0.4997,0.50260,600,N State St\n0.4997,0.50275,620,N State St\n"
        "0.5003,0.50270,611,N State St\n"
    )  # 611 stands across the street, east: it says nothing about the even side
    import_addresses(path, kind="openaddresses", name="towers")
    geocoding.clear_cache()

    def on_grid(number: int) -> float:  # Madison (0) at lat 0.500, Division (1200 N) at 0.505
        return 0.5 + 0.005 * number / 1200

    next_door = geocoding.geocode("630 N State St")  # 620 is 10 numbers away, 610 not known
    assert next_door.kind == "interpolated"
    assert next_door.lon == pytest.approx(0.4997) and next_door.lat == pytest.approx(on_grid(630))
    across = geocoding.geocode("613 N State St")  # the odd side follows 611, east of the centreline
    assert across.lon == pytest.approx(0.5003) and across.lat == pytest.approx(on_grid(613))
    far = geocoding.geocode(f"{620 + nudge.REACH + 2} N State St")  # past the reach: the grid's own place
    assert far.lon == pytest.approx(0.5) and far.lat == pytest.approx(on_grid(620 + nudge.REACH + 2))


TWINS = [
    ("N CLINTON ST", "W MADISON ST", 0.498, 0.500, ""),
    ("N CLINTON ST", "W DIVISION ST", 0.498, 0.505, ""),
    ("N CLIFTON ST", "W MADISON ST", 0.497, 0.500, ""),
    ("N CLIFTON ST", "W ELM ST", 0.497, 0.5005, ""),
    ("N STATE ST", "W MADISON ST", 0.500, 0.500, ""),
    ("N STATE ST", "W DIVISION ST", 0.500, 0.505, ""),
    ("N ASHLAND AVE", "W MADISON ST", 0.494, 0.500, ""),
    ("N ASHLAND AVE", "W DIVISION ST", 0.494, 0.505, ""),
]


def test_a_typo_as_close_to_two_streets_goes_to_the_one_that_has_the_number(grid_city):
    grid_city("twins", TWINS, GRID)
    far = geocoding.geocode("1100 N Cliton St")  # Clinton reaches 1100 N; Clifton stops at 50 N
    assert (far.status, far.address) == ("matched", "1100 N CLINTON ST")
    near = geocoding.geocode("20 N Cliton St")  # both have 20 N: say so
    assert near.status == "ambiguous" and {c["address"] for c in near.candidates} == {
        "20 N CLINTON ST",
        "20 N CLIFTON ST",
    }


LOOKALIKES = [
    ("N HAMILTON AVE", "W MADISON ST", 0.496, 0.500, ""),
    ("N HAMILTON AVE", "W DIVISION ST", 0.496, 0.505, ""),
    ("N HILTON ST", "W MADISON ST", 0.497, 0.500, ""),
    ("N HILTON ST", "W DIVISION ST", 0.497, 0.505, ""),
    ("N STATE ST", "W MADISON ST", 0.500, 0.500, ""),
    ("N ASHLAND AVE", "W MADISON ST", 0.494, 0.500, ""),
]


def test_a_street_the_layer_lacks_is_not_guessed_as_one_that_only_looks_like_it(grid_city):
    """Milton St is not in the layer: it fits Hamilton Ave only with two letters put in front, and Hilton St
    only with its first letter changed. Both are other streets, so the answer names none of them; a slip
    inside a name (Hiltn, Hamiltn) is still read."""
    grid_city("lookalikes", LOOKALIKES, GRID)
    for text in ("1200 N Milton St", "1200 N Milton"):
        r = geocoding.geocode(text)
        assert (r.status, r.kind) == ("unmatched", "none"), (text, r.address)
        assert "MILTON" in r.message and "HILTON" not in r.message and "HAMILTON" not in r.message
    assert geocoding.geocode("300 N Hiltn St").address == "300 N HILTON ST"
    assert geocoding.geocode("300 N Hamiltn Ave").address == "300 N HAMILTON AVE"


def test_without_a_street_layer_a_pin_still_gets_its_ward(two_square_wards):
    geocoding.clear_cache()
    here = geocoding.reverse(0.5, 0.5)
    assert (here["ward"], here["kind"], here["address"]) == (1, "none", "")
    assert "load_streets" in here["message"]


def test_a_city_without_a_usable_grid_still_answers_corners_pins_and_says_why_not_numbers(grid_city):
    grid_city("no grid", CORNERS, NO_GRID)
    house = geocoding.geocode("600 N State St")
    assert (house.status, house.kind) == ("unmatched", "street") and "answered at the street" in house.message
    corner = geocoding.geocode("State & Division")
    assert (corner.status, corner.kind) == ("matched", "intersection")
    pin = geocoding.reverse(0.5001, 0.5025)
    assert (pin["kind"], pin["ward"]) == ("intersection", 1) and pin["address"] == "N STATE ST & E LONELY LN"
    assert geocoding.grid_ranges()["features"] == []


# 79th St runs the width of the little city; 79th Pl is a short street 100 m south of it, crossing Hoyne only.
SEVENTY_NINTH = [
    ("S HOYNE AVE", "W 79TH ST", 0.494, 0.450, ""),
    ("S HOYNE AVE", "W 79TH PL", 0.494, 0.4491, ""),
    ("S STATE ST", "W 79TH ST", 0.500, 0.450, ""),
    ("S ASHLAND AVE", "W 79TH ST", 0.488, 0.450, ""),
    ("S WOOD ST", "W 79TH ST", 0.482, 0.450, ""),
    ("S DAMEN AVE", "W 79TH ST", 0.476, 0.450, ""),
    ("S WESTERN AVE", "W 79TH ST", 0.470, 0.450, ""),
]


def test_a_name_that_fits_two_streets_without_its_type_is_ambiguous_with_both(grid_city):
    grid_city("seventy-ninth", SEVENTY_NINTH, GRID)
    corner = geocoding.geocode("Hoyne and 79th")
    assert corner.status == "ambiguous"
    assert sorted(c["address"] for c in corner.candidates) == ["HOYNE AVE & 79TH PL", "HOYNE AVE & 79TH ST"]
    named = geocoding.geocode("Hoyne & 79th Pl")
    assert (named.status, named.address) == ("matched", "HOYNE AVE & 79TH PL")
    assert geocoding.geocode("Hoyne Ave & 79th St").status == "matched"


# South Van Ness Ave is a street of its own beside Van Ness Ave; 14th St crosses South Van Ness only. Utah St
# and Carolina St each meet 14th St twice: Utah with a 75 m jog, Carolina at both ends of a 400 m crescent.
SPELLED_AND_JOGS = [
    ("13TH ST", "VAN NESS AVE", 0.500, 0.520, ""),
    ("15TH ST", "VAN NESS AVE", 0.500, 0.518, ""),
    ("14TH ST", "SOUTH VAN NESS AVE", 0.496, 0.510, ""),
    ("16TH ST", "SOUTH VAN NESS AVE", 0.496, 0.508, ""),
    ("14TH ST", "UTAH ST", 0.490, 0.510, ""),
    ("14TH ST", "UTAH ST", 0.4907, 0.5103, ""),
    ("14TH ST", "CAROLINA ST", 0.484, 0.510, ""),
    ("14TH ST", "CAROLINA ST", 0.4804, 0.5084, ""),
]


def test_a_spelled_direction_that_is_part_of_a_name_and_a_jogging_crossing(grid_city):
    grid_city("spelled", SPELLED_AND_JOGS, NO_GRID)
    named = geocoding.geocode("Intersection of 14TH ST and SOUTH VAN NESS AVE")
    assert (named.status, named.address) == ("matched", "14TH ST & SOUTH VAN NESS AVE")
    assert local_metres(named.lon, named.lat, 0.496, 0.510) < 1
    plain = geocoding.geocode("15th St & S Van Ness Ave")  # the south half of Van Ness Ave: still a reading
    assert (plain.status, plain.address) == ("matched", "15TH ST & VAN NESS AVE")
    jog = geocoding.geocode("14th St & Utah St")  # one crossing, answered at its middle
    assert (jog.status, jog.kind) == ("matched", "intersection")
    assert local_metres(jog.lon, jog.lat, 0.49035, 0.51015) < 1
    crescent = geocoding.geocode("14th St & Carolina St")  # two places: say so
    assert crescent.status == "ambiguous" and len(crescent.candidates) == 2


def test_address_points_written_with_a_short_direction_are_on_the_street_of_the_whole_name(grid_city, tmp_path):
    """A city without a grid: its address file writes "S Van Ness Ave", its street layer "South Van Ness Avenue".
    The points are that street's (they were keyed as the south half of Van Ness Ave, where the geocoder never
    looked: San Francisco's history answered its South Van Ness numbers at the street only)."""
    from layers.addresses import import_addresses

    grid_city("spelled", SPELLED_AND_JOGS, NO_GRID)
    path = tmp_path / "points.csv"
    path.write_text(
        "LON,LAT,NUMBER,STREET,UNIT,CITY,POSTCODE\n"
        "0.4960,0.5100,1400,S Van Ness Ave,,,\n"
        "0.4960,0.5080,1600,S Van Ness Ave,,,\n"
        "0.5000,0.5200,1300,Van Ness Ave,,,\n"
    )
    assert import_addresses(path, kind="openaddresses", name="points").loaded == 3
    geocoding.clear_cache()
    exact = geocoding.geocode("1400 South Van Ness Ave")
    assert (exact.status, exact.kind, exact.address) == ("matched", "point", "1400 SOUTH VAN NESS AVE")
    short = geocoding.geocode("1600 S Van Ness Ave")  # as the file writes it: the same street
    assert (short.status, short.kind, short.address) == ("matched", "point", "1600 SOUTH VAN NESS AVE")
    north = geocoding.geocode("1300 Van Ness Ave")  # the plain street keeps its own point
    assert (north.kind, north.address) == ("point", "1300 VAN NESS AVE")
