"""The layers over HTTP: point lookups, versions list, basemap outlines, clear 4xx on bad input."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from layers.models import LayerKind
from tests.conftest import EAST_SQUARE, WEST_SQUARE, collection, feature

pytestmark = pytest.mark.django_db

WHERE = "/api/layers/where/"


def test_the_public_can_ask_which_ward_holds_a_point(client, two_square_wards):
    response = client.get(WHERE, {"lon": "1.5", "lat": "0.5"})
    assert response.status_code == 200
    body = response.json()
    assert body["ward"]["number"] == 2
    assert body["ward"]["inside"] is True
    assert body["community_area"] is None  # no community-area layer loaded in this city


def test_a_point_outside_the_city_is_a_clear_answer_not_an_error(client, two_square_wards):
    body = client.get(WHERE, {"lon": "5", "lat": "0.5"}).json()
    assert body["ward"]["inside"] is False
    assert body["ward"]["message"].startswith("outside the city")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lat": "0.5"}, "lon is required"),
        ({"lon": "abc", "lat": "0.5"}, "lon must be a number"),
        ({"lon": "0.5", "lat": "412"}, "lat must be between -90 and 90; got 412.0"),
        ({"lon": "10", "lat": "120"}, "are lon and lat swapped?"),
        ({"lon": "nan", "lat": "0.5"}, "finite"),
        ({"lon": "0.5", "lat": "0.5", "on": "yesterday"}, "on must be a date as YYYY-MM-DD"),
    ],
)
def test_bad_coordinates_get_a_400_that_says_what_was_expected(client, two_square_wards, params, message):
    response = client.get(WHERE, params)
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_with_no_ward_map_loaded_the_service_says_how_to_fix_it(client):
    response = client.get(WHERE, {"lon": "0.5", "lat": "0.5"})
    assert response.status_code == 503
    assert "load_layers" in response.json()["detail"]


def test_the_versions_list_costs_a_fixed_number_of_queries(client, load_wards, django_assert_max_num_queries):
    for i in range(5):
        load_wards(collection(feature(str(i + 1), WEST_SQUARE)), name=f"map {i}")
    with django_assert_max_num_queries(2):
        response = client.get("/api/layers/versions/", {"kind": LayerKind.WARDS})
    assert response.status_code == 200
    assert len(response.json()) == 5


def test_the_basemap_is_geojson_from_our_own_layer(client, two_square_wards):
    response = client.get("/layers/basemap/wards.geojson")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    fc = json.loads(response.content)
    assert [f["properties"]["number"] for f in fc["features"]] == [1, 2]
    assert fc["features"][0]["geometry"]["type"] == "MultiPolygon"
    assert client.get("/layers/basemap/rivers.geojson").status_code == 404


def test_maps_open_on_the_city_not_on_a_speck_far_offshore(client, load_wards, settings):
    """Ward 1 is the west square and an islet 0.01° across, 2° (220 km) east: the view leaves the islet out;
    ward 2 (the east square) is near enough to stay in. A city's own [map] view box wins over the rule."""
    settings.CITY_MAP_VIEW = None
    islet = [[4.0, 0.5], [4.01, 0.5], [4.01, 0.51], [4.0, 0.51], [4.0, 0.5]]
    ward_one = feature("1", WEST_SQUARE)
    ward_one["geometry"] = {"type": "MultiPolygon", "coordinates": [[WEST_SQUARE], [islet]]}
    load_wards(collection(ward_one, feature("2", EAST_SQUARE)))
    fc = json.loads(client.get("/layers/basemap/wards.geojson").content)
    assert fc["view_bbox"] == [0.0, 0.0, 2.0, 1.0]
    assert max(x for f in fc["features"] for poly in f["geometry"]["coordinates"] for x, _ in poly[0]) > 4
    settings.CITY_MAP_VIEW = [0.2, 0.2, 0.8, 0.8]
    assert json.loads(client.get("/layers/basemap/wards.geojson").content)["view_bbox"] == [0.2, 0.2, 0.8, 0.8]


def test_the_openapi_schema_documents_the_lookup(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert "/api/layers/where/" in response.json()["paths"]


def test_a_date_no_ward_map_covers_is_the_askers_to_change(client, load_wards):
    from tests.conftest import EAST_SQUARE, WEST_SQUARE, collection, feature

    load_wards(collection(feature("1", WEST_SQUARE), feature("2", EAST_SQUARE)), effective_from=dt.date(2015, 5, 18))
    response = client.get(WHERE, {"lon": "0.5", "lat": "0.5", "on": "2000-01-01"})
    assert response.status_code == 404 and "in force on 2000-01-01" in response.json()["detail"]
    assert client.get(WHERE, {"lon": "0.5", "lat": "0.5"}).status_code == 200
