"""gunicorn's master builds the web processes' caches before it forks them (gis_app.warmup)."""

from __future__ import annotations

import pytest
from django.db import connection

from gis_app.warmup import warm
from layers import point_index
from layers.geocoding.index import _INDEX as GEOCODER_INDEXES
from tests.test_geocoding import CORNERS, GRID


@pytest.mark.django_db(transaction=True)
def test_a_fresh_database_warms_what_it_has_closes_its_connection_and_is_not_an_error(two_square_wards):
    point_index.clear()
    built = warm()
    assert "wards point index" in built and "config memo" in built and "geocoder index" not in built
    assert built[0] == "URLconf and views"
    assert connection.connection is None  # closed: no forked worker shares the master's connection


@pytest.mark.django_db
def test_the_geocoder_index_and_the_district_index_are_built_before_any_request(grid_city):
    grid_city("little city", CORNERS, GRID)
    point_index.clear()
    built = warm(close=False)  # the test's transaction stays open
    assert built[:3] == ["URLconf and views", "geocoder index", "wards point index"]
    assert GEOCODER_INDEXES and point_index._CACHE  # kept in this process, ready to be forked
