"""The city map's vector tiles (issue 22): what a map drawn from them shows, decoded as a browser would.

The little city: two square wards and a 5 x 5 street grid ("Row 0".."Row 4" east-west, "Col 0".."Col 4"
north-south, blocks of about 220 m) inside ward 1."""

from __future__ import annotations

import math

import mapbox_vector_tile
import pytest
from django.core.cache import cache
from django.test import Client

from layers.tiles import LABEL_ZOOM, MINOR_STREETS_ZOOM, build_tile, current_tileset
from tests.conftest import GRID_LAT0, GRID_LON0, GRID_STEP, collection, feature

pytestmark = pytest.mark.django_db


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def decoded(z: int, lon: float, lat: float) -> dict:
    x, y = tile_of(lon, lat, z)
    resp = Client().get(f"/tiles/city/{z}/{x}/{y}.pbf")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/vnd.mapbox-vector-tile"
    return mapbox_vector_tile.decode(resp.content)


@pytest.fixture
def little_map(street_grid):  # type: ignore[no-untyped-def]
    cache.clear()
    return street_grid


MIDDLE = (GRID_LON0 + 2 * GRID_STEP, GRID_LAT0 + 2 * GRID_STEP)


def test_street_names_are_written_along_their_streets_at_street_zoom(little_map):
    tile = decoded(16, *MIDDLE)
    labels = {f["properties"]["name"]: f["properties"]["angle"] for f in tile["street_labels"]["features"]}
    assert {"Row 2", "Col 2"} <= set(labels)
    assert all(abs(labels[n]) <= 1 for n in labels if n.startswith("Row")), labels  # east-west: level
    assert all(labels[n] in (-90, -89) for n in labels if n.startswith("Col")), labels  # north-south: upwards
    names = [f["properties"]["name"] for f in tile["street_labels"]["features"]]
    assert len(names) == len(set(names))  # once per street per tile
    drawn = tile["streets"]["features"]
    assert {f["properties"]["name"] for f in drawn} >= {"Row 2", "Col 2"}
    # Each two-way block is two directed edges: it is drawn once.
    assert len(drawn) == len({tuple(map(tuple, f["geometry"]["coordinates"])) for f in drawn})


def test_the_whole_city_shows_at_low_zoom_with_its_ward_numbers_and_no_clutter(little_map):
    far = decoded(8, *MIDDLE)
    assert "street_labels" not in far and "streets" not in far  # residential streets wait for zoom 13
    numbers = {f["properties"]["number"] for f in far["area_labels"]["features"]}
    assert numbers == {1}  # ward 1's label point falls in this tile; ward 2's in its own
    assert {f["properties"]["kind"] for f in far["areas"]["features"]} == {"wards"}
    near = decoded(MINOR_STREETS_ZOOM, *MIDDLE)
    assert "streets" in near and "street_labels" not in near
    assert LABEL_ZOOM == 15 and "street_labels" in decoded(LABEL_ZOOM, *MIDDLE)


def test_a_tile_is_built_once_per_layer_version(little_map, load_wards, django_assert_max_num_queries):
    x, y = tile_of(*MIDDLE, 16)
    first = current_tileset()
    body = Client().get(f"/tiles/city/16/{x}/{y}.pbf").content
    with django_assert_max_num_queries(4):  # the versions in force only: the tile itself comes from the cache
        assert Client().get(f"/tiles/city/16/{x}/{y}.pbf").content == body
    assert build_tile(16, x, y, first) == body
    with django_assert_max_num_queries(0):  # named by its versions' key, as TileJSON's URLs do: no query
        assert Client().get(f"/tiles/city/16/{x}/{y}.pbf?v={first.key}").content == body
    square = [[0.0, 0.0], [3.0, 0.0], [3.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    load_wards(collection(feature("7", square)), name="one big ward")
    second = current_tileset()
    assert second.key != first.key  # a new map in force: new tiles, new URLs
    tilejson = Client().get("/tiles/city.json").json()
    assert tilejson["tiles"][0].startswith("/tiles/city/{z}/{x}/{y}.pbf?v=" + second.key)
    assert "ODbL" in tilejson["attribution"] or "test" in tilejson["attribution"]


def test_a_tile_outside_the_map_is_a_clear_404_and_an_empty_place_an_empty_tile(little_map):
    assert Client().get("/tiles/city/3/1/1.pbf").status_code == 404
    resp = Client().get("/tiles/city/16/99999/1.pbf")
    assert resp.status_code == 404 and b"x and y run from 0 to 65535" in resp.content
    ocean = Client().get("/tiles/city/16/0/0.pbf")
    assert ocean.status_code == 200 and mapbox_vector_tile.decode(ocean.content) == {}
