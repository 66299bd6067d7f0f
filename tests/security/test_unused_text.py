"""Finding 8 of the security review (issue 21), in part: text the address parser did not use lowers the score
and is reported, so "1 N State St; DROP TABLE …" is not answered as a confident match. Actor: Mallory again;
the city is the literal little grid of the geocoding tests."""

from __future__ import annotations

import pytest

from layers.normalize import parse
from tests.conftest import LITTLE_GRID
from tests.test_address_grid import SKEWED_CORNERS

pytestmark = pytest.mark.django_db


def test_the_parser_names_what_it_did_not_use():
    assert parse("1 N State St; DROP TABLE requests", "Chicago").unused == "DROP TABLE requests"
    assert parse("1234 N Ashland Ave, Chicago, IL 60622", "Chicago").unused == ""
    assert parse("1 Main St, Evanston, IL", "Chicago").unused == "Evanston"  # another town is not this city
    assert parse("1234 N Ashland Ave Apt 3", "Chicago").unused == ""


def test_stray_text_halves_the_score_and_is_reported(grid_city, settings):
    from layers import geocoding

    settings.CITY_NAME = "Chicago"
    grid_city("little city", [(a, b, x, y, "") for a, b, x, y in SKEWED_CORNERS], LITTLE_GRID)
    clean = geocoding.geocode("100 N State St")
    stray = geocoding.geocode("100 N State St; DROP TABLE requests")
    assert clean.status == stray.status == "matched" and (clean.lon, clean.lat) == (stray.lon, stray.lat)
    assert stray.score == pytest.approx(clean.score / 2) and stray.score < 0.75
    assert "text not used: 'DROP TABLE requests'" in stray.message
    assert geocoding.geocode("100 N State St, Chicago, IL").score == clean.score
