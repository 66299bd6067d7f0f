"""House numbers in a city without a grid, placed from address points learned from its own 311 history.

The little gridless city: Valencia Street runs north from 16th Street (lat 0.496) to 20th Street (lat
0.504) at lon 0.500; Mission Street runs beside it at lon 0.503. The history knows Valencia's even numbers
100-500 at every 20th number, 100 numbers to 222 m going north (2.22 m a number).
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone

from gis_app.choices import Status
from gis_app.citydata.address_learning import address_key, learn_address_points, split_half
from gis_app.models import ImportBatch, ServiceRequest
from gis_app.tickets import new_ticket
from layers import geocoding
from layers.coords import local_metres, point_from_lonlat
from layers.models import AddressPoint, LayerKind, LayerVersion
from layers.normalize import base_name, parse
from tests.conftest import NO_GRID

pytestmark = pytest.mark.django_db

CORNERS = [
    *[("Valencia Street", f"{n}th Street", 0.500, 0.496 + 0.002 * (n - 16), "") for n in range(16, 21)],
    *[("Mission Street", f"{n}th Street", 0.503, 0.496 + 0.002 * (n - 16), "") for n in range(16, 21)],
]


def valencia_lat(number: int) -> float:
    return 0.4961 + (number - 100) / 100 * 0.002


def _also_known(batch, pothole, *rows):  # type: ignore[no-untyped-def]
    """History requests (closed, located) at these (address, lon, lat)."""
    for text, x, y in rows:
        ServiceRequest.objects.create(
            ticket=new_ticket(),
            service_type=pothole,
            department=pothole.department,
            address=text,
            location=point_from_lonlat(x, y),
            requested_at=timezone.now(),
            import_batch=batch,
            status=Status.CLOSED,
        )


@pytest.fixture
def gridless_city(grid_city, pothole):  # type: ignore[no-untyped-def]
    grid_city("gridless", CORNERS, NO_GRID)
    batch = ImportBatch.objects.create(kind="history", source="test export", checksum="h1")
    known = [(f"{n} VALENCIA ST", 0.5001, valencia_lat(n)) for n in range(100, 501, 20)]
    known += [
        ("310 Valencia St", 0.5001, 0.4700),  # placed 3 km south of its neighbours: out of line
        ("330 VALENCIA ST", 0.5028, valencia_lat(330)),  # beside Mission Street, 250 m from Valencia
        ("Valencia St & 18th St", 0.500, 0.500),  # a corner, not a house address
    ]
    _also_known(batch, pothole, *known)
    return batch


def test_a_number_between_two_learned_points_lands_between_them_on_its_street(gridless_city):
    report = learn_address_points()
    assert report.loaded == 21
    assert report.skipped == {
        "point out of line with its street's neighbouring numbers": 1,
        "point far from the street its address names": 1,
    }
    geocoding.clear_cache()
    found = geocoding.geocode("250 Valencia Street")
    assert (found.status, found.kind, found.address) == ("matched", "interpolated", "250 VALENCIA ST")
    assert local_metres(found.lon, found.lat, 0.5001, valencia_lat(250)) < 5


def test_a_point_filed_past_its_neighbours_is_not_learned_though_one_of_them_is_near_enough(gridless_city, pothole):
    """430 Valencia filed where 520 would be: 133 m past 460, which its 30 numbers' gap allows, but on the
    far side of 440 and 460 from 420: out of its street's order, so it is not learned, and 430 is placed
    between 420 and 440."""
    _also_known(gridless_city, pothole, ("430 VALENCIA ST", 0.5001, valencia_lat(520)))
    report = learn_address_points()
    assert report.skipped["point out of line with its street's neighbouring numbers"] == 2  # and 310
    geocoding.clear_cache()
    found = geocoding.geocode("430 Valencia St")
    assert (found.status, found.kind) == ("matched", "interpolated")
    assert local_metres(found.lon, found.lat, 0.5001, valencia_lat(430)) < 5


def test_a_number_a_little_past_the_last_point_is_placed_on_and_one_far_past_is_the_street(gridless_city):
    learn_address_points()
    geocoding.clear_cache()
    near = geocoding.geocode("540 Valencia St")  # 40 numbers (89 m) past 500
    assert (near.status, near.kind) == ("matched", "interpolated")
    assert local_metres(near.lon, near.lat, 0.5001, valencia_lat(540)) < 5
    far = geocoding.geocode("2000 Valencia St")  # 1500 numbers past: the street may bend or end
    assert (far.status, far.kind) == ("unmatched", "street") and "answered at the street" in far.message


def test_a_street_with_one_known_point_is_numbered_the_way_its_parallel_neighbour_runs(gridless_city, pothole):
    """Mission Street knows only 200; Valencia beside it runs north at 2.22 m a number, so 280 Mission is
    178 m north of 200 (not south, not at the street's middle)."""
    _also_known(gridless_city, pothole, ("200 MISSION ST", 0.5031, valencia_lat(200)))
    learn_address_points()
    geocoding.clear_cache()
    found = geocoding.geocode("280 Mission St")
    assert (found.status, found.kind, found.address) == ("matched", "interpolated", "280 MISSION ST")
    assert local_metres(found.lon, found.lat, 0.5031, valencia_lat(280)) < 10
    below = geocoding.geocode("140 Mission St")  # the other way: south of the known point
    assert local_metres(below.lon, below.lat, 0.5031, valencia_lat(140)) < 10


def test_a_lone_point_on_a_street_no_known_run_is_parallel_to_stays_at_the_street(gridless_city, pothole):
    """16th Street crosses Valencia: Valencia's runs say nothing about which way 16th Street's numbers go."""
    _also_known(gridless_city, pothole, ("100 16TH ST", 0.5005, 0.49605))
    learn_address_points()
    geocoding.clear_cache()
    found = geocoding.geocode("180 16th St")
    assert (found.status, found.kind) == ("unmatched", "street")


def test_the_layer_and_the_caller_name_a_street_by_one_key():
    """The index keys a layer's streets by base_name; a caller's street is parsed to the same key."""
    parsed = parse("1000 Valencia St")
    assert parsed.street is not None
    assert base_name("Valencia Street") == parsed.street.key == "VALENCIA ST"
    assert base_name("Saint Charles Avenue") == "ST CHARLES AVE"


def test_learning_is_one_recorded_version_replaced_on_change_and_a_no_op_when_unchanged(gridless_city, pothole):
    first = learn_address_points()
    again = learn_address_points()
    assert again.unchanged and again.version_id == first.version_id
    ServiceRequest.objects.create(
        ticket=new_ticket(),
        service_type=pothole,
        department=pothole.department,
        address="600 VALENCIA ST",
        location=point_from_lonlat(0.5001, valencia_lat(600)),
        requested_at=timezone.now(),
        import_batch=gridless_city,
        status=Status.CLOSED,
    )
    second = learn_address_points()
    active = LayerVersion.objects.filter(kind=LayerKind.ADDRESSES, active=True)
    assert list(active.values_list("pk", flat=True)) == [second.version_id]
    assert AddressPoint.objects.filter(layer_version_id=second.version_id).count() == 22


def test_a_split_by_address_keeps_every_spelling_of_an_address_in_one_half(gridless_city):
    a, b = address_key("123 Valencia Street"), address_key("123 VALENCIA ST")
    assert a == b == (123, "", "VALENCIA ST")
    assert address_key("Valencia St & 18th St") is None
    report = learn_address_points(keep=lambda k: split_half(k) == 0)
    kept = AddressPoint.objects.filter(layer_version_id=report.version_id)
    assert kept.exists() and all(split_half((p.number, p.direction, p.street)) == 0 for p in kept)


def test_the_command_learns_only_where_the_city_asks(gridless_city, settings, capsys):
    settings.CITY_LEARN_ADDRESS_POINTS = False
    call_command("learn_addresses")
    assert "not learned" in capsys.readouterr().out and not AddressPoint.objects.exists()
    settings.CITY_LEARN_ADDRESS_POINTS = True
    call_command("learn_addresses")
    assert "loaded 21 address points" in capsys.readouterr().out
