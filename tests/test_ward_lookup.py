"""ward_at / community_area_at on tiny literal squares: inside, on the shared edge, outside, dates."""

from __future__ import annotations

import datetime as dt

import pytest

from layers.coords import point_from_lonlat
from layers.lookup import LayerNotLoaded, community_area_at, ward_at, wards_at
from layers.models import LayerKind
from tests.conftest import EAST_SQUARE, WEST_SQUARE, collection, feature

pytestmark = pytest.mark.django_db


def test_a_point_in_each_square_gets_its_ward(two_square_wards):
    west = ward_at(point_from_lonlat(0.5, 0.5))
    east = ward_at(point_from_lonlat(1.5, 0.5))
    assert (west.number, west.inside) == (1, True)
    assert (east.number, east.inside) == (2, True)
    # The centre of a unit square at the equator is half a degree (~55 km) from every edge.
    assert 55_000 < west.edge_distance_m < 56_000
    assert not west.near_edge


def test_a_point_on_the_shared_edge_answers_the_lower_number_and_names_the_other(two_square_wards):
    result = ward_at(point_from_lonlat(1.0, 0.5))
    assert result.number == 1
    assert result.also_covering == (2,)
    assert result.edge_distance_m == pytest.approx(0.0, abs=0.01)
    assert "shares with ward 2" in result.message


def test_a_point_a_few_metres_from_the_edge_is_flagged(two_square_wards):
    result = ward_at(point_from_lonlat(0.9999, 0.5))  # about 11 m west of the edge
    assert result.number == 1
    assert result.near_edge
    assert 10 < result.edge_distance_m < 12
    assert "check the location" in result.message


def test_a_point_outside_every_ward_says_so_with_the_distance(two_square_wards):
    result = ward_at(point_from_lonlat(2.5, 0.5))
    assert result.inside is False
    assert result.number is None
    assert 55_000 < result.edge_distance_m < 56_000
    assert result.message.startswith("outside the city")


def test_set_based_lookup_matches_single_lookups_in_input_order(two_square_wards):
    pts = [point_from_lonlat(x, 0.5) for x in (1.5, 0.5, 2.5, 1.0)]
    assert wards_at(pts) == [2, 1, None, 1]
    assert wards_at([]) == []


def test_the_map_in_force_on_the_date_answers(load_wards):
    """A point whose ward changed between the 2015 and 2023 maps answers differently for 2021 and 2024."""
    load_wards(
        collection(feature("1", WEST_SQUARE), feature("2", EAST_SQUARE)),
        name="2015 map",
        effective_from=dt.date(2015, 5, 18),
        effective_to=dt.date(2023, 5, 15),
    )
    load_wards(
        collection(feature("7", WEST_SQUARE), feature("8", EAST_SQUARE)),
        name="2023 map",
        effective_from=dt.date(2023, 5, 15),
    )
    pt = point_from_lonlat(0.5, 0.5)
    assert ward_at(pt, on=dt.date(2021, 1, 1)).number == 1
    assert ward_at(pt, on=dt.date(2024, 1, 1)).number == 7
    # Effective ranges are [from, to): the changeover day belongs to the new map.
    assert ward_at(pt, on=dt.date(2023, 5, 14)).number == 1
    assert ward_at(pt, on=dt.date(2023, 5, 15)).number == 7
    assert wards_at([pt], on=dt.date(2021, 1, 1)) == [1]
    with pytest.raises(LayerNotLoaded, match="no active wards layer is in force on 2010-01-01"):
        ward_at(pt, on=dt.date(2010, 1, 1))


def test_without_any_ward_map_the_error_says_how_to_fix_it(db):
    with pytest.raises(LayerNotLoaded, match="load_layers"):
        ward_at(point_from_lonlat(0.5, 0.5))


def test_community_area_lookup_uses_its_own_layer(load_wards):
    load_wards(
        collection(feature("35", WEST_SQUARE, community="DOUGLAS")), kind=LayerKind.COMMUNITY_AREAS, name="areas"
    )
    result = community_area_at(point_from_lonlat(0.25, 0.75))
    assert result.number == 35
    assert community_area_at(point_from_lonlat(1.5, 0.5)).inside is False
