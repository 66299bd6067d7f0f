"""The address-grid model: where numbers sit inside their hundred-block, and a street's own axis.

Literal numbers throughout: a street whose grid streets sit at known positions, and address points laid out
on a lot model (first lot 10 % into the block, then 1.8 % of the block per number) so the fit can be checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from layers.grid import Axis, fit_block_profile, local_axis
from tests.conftest import LITTLE_GRID


def lot_share(remainder: float) -> float:
    return min(0.1 + 0.018 * remainder, 0.95)


def test_the_block_profile_is_fitted_from_address_points_and_rises_with_the_number():
    samples = [(float(r), lot_share(r)) for _ in range(12) for r in range(0, 50, 2)]
    profile = fit_block_profile(samples)
    assert profile.source.startswith("fitted") and profile.samples == 300
    assert profile.share(0) == pytest.approx(0.1, abs=0.02)  # the first lot is already into the block
    assert profile.share(24) == pytest.approx(lot_share(24), abs=0.02)  # not 0.24, as an even spread says
    assert profile.share(99) == profile.share(48)  # past the last numbers used: flat, not past the corner
    assert all(np.diff(profile.shares) >= 0)
    assert profile.remainder(profile.share(30)) == pytest.approx(30, abs=0.5)  # reverse geocoding's inverse


def test_a_dip_in_one_bin_does_not_fold_the_profile():
    samples = [(float(r), lot_share(r)) for _ in range(12) for r in range(0, 50, 2)]
    samples += [(45.0, 0.2)] * 200  # one long frontage numbered 45: its centroid sits early in the block
    profile = fit_block_profile(samples)
    assert all(np.diff(profile.shares) >= 0)


def test_too_few_address_points_leave_the_even_spread():
    profile = fit_block_profile([(10.0, 0.3)] * 50)
    assert profile.source.startswith("linear") and profile.share(25) == pytest.approx(0.25)
    assert fit_block_profile([(r, s) for r, s in [(5.0, 2.0)] * 300]).source.startswith("linear")  # off-block


CITYWIDE = Axis(np.array([0.0, 800.0, 1600.0, 2400.0]), np.array([0.0, 1.0, 2.0, 3.0]))


def test_a_grid_street_that_drifts_off_its_line_is_dropped_from_the_street_axis():
    # Madison 0 at 0.0, Washington 100 at 0.1, "Lake" 200 drifted to 0.45, Kinzie 400 at 0.4, Chicago 800 at 0.8.
    points = [(0.0, 0.0), (100.0, 0.1), (200.0, 0.45), (400.0, 0.4), (800.0, 0.8)]
    axis = local_axis(points, kink=0.15)
    assert axis is not None and 200.0 not in axis.numbers and axis.position(130) == pytest.approx(0.13)
    kept = local_axis(points)
    assert kept is not None and 400.0 not in kept.numbers  # without the rule: out-of-order Kinzie went instead


def test_past_its_own_corners_a_short_street_follows_the_citywide_axis_and_a_long_one_its_own_scale():
    short = local_axis([(0.0, 0.5), (100.0, 0.6)], beyond=CITYWIDE, long_span=800)
    assert short is not None
    assert short.position(900.0) == pytest.approx(0.6 + CITYWIDE.position(900) - CITYWIDE.position(100))
    long = local_axis([(0.0, 0.0), (400.0, 0.44), (800.0, 0.88)], beyond=CITYWIDE, long_span=800)
    assert long is not None and long.position(1200.0) == pytest.approx(1.32)  # its own 1.1 per 1000, not 1.0
    assert long.position(400.0) == pytest.approx(0.44)  # inside: its own corners


# ---- on a street layer: a short street takes its numbers from the grid streets beside it ---------------

SKEWED_CORNERS = [  # Ashland leans west going north: 0.494 at Madison, 0.492 at Division
    ("N STATE ST", "W MADISON ST", 0.500, 0.500),
    ("N STATE ST", "W DIVISION ST", 0.500, 0.505),
    ("N ASHLAND AVE", "W MADISON ST", 0.494, 0.500),
    ("N ASHLAND AVE", "W DIVISION ST", 0.492, 0.505),
    ("S STATE ST", "W ROOSEVELT RD", 0.500, 0.495),
    ("S ASHLAND AVE", "W ROOSEVELT RD", 0.494, 0.495),
    ("N STATE ST", "W SHORT ST", 0.500, 0.5045),
    ("N ELM ST", "W SHORT ST", 0.497, 0.5045),
]


@pytest.fixture
def skewed_city(grid_city):  # type: ignore[no-untyped-def]
    from layers import geocoding

    grid_city("skewed city", [(a, b, x, y, "") for a, b, x, y in SKEWED_CORNERS], LITTLE_GRID)
    return geocoding


@pytest.mark.django_db
def test_a_short_street_takes_its_numbers_from_the_grid_street_beside_it(skewed_city):
    # Short St crosses one grid street (State) only; Division, 55 m north, has its own corners: 800 W is
    # half way to Ashland there (0.496), not where the citywide median of Ashland puts it (0.497).
    r = skewed_city.geocode("800 W Short St")
    assert r.kind == "interpolated" and r.lon == pytest.approx(0.496, abs=2e-4)
    assert skewed_city.geocode("800 W Division St").lon == pytest.approx(0.496, abs=1e-6)


# ---- grid lines read off the street layer: minor streets that lie on a hundred line --------------------

MINOR_GRID = """
even_side = { NS = "W", EW = "N" }
derive_min_corners = 3
derive_tolerance = 15
[north_south]
"MADISON ST" = 0
"NORTH AVE" = 400
[east_west]
"STATE ST" = 0
"WELLS ST" = -200
"FRANKLIN ST" = -300
"""
# Three north-south grid streets cross Madison (0) at lat 0.5000 and North Ave (400) at 0.5040. Elm St crosses
# all three at 0.5031 (each reads 310: the 300 line, its blocks unequal); Oak St at 0.5012 (reads 120: on no
# hundred line); Diag St crosses them at 0.5010, 0.5020 and 0.5030 (reads 100, 200, 300: no one line).
MINOR_CORNERS = [
    (f"N {ns}", f"W {ew}", lon, lat, "")
    for ns, lon in (("STATE ST", 0.5000), ("WELLS ST", 0.4976), ("FRANKLIN ST", 0.4964))
    for ew, lat in (("MADISON ST", 0.5000), ("NORTH AVE", 0.5040), ("ELM ST", 0.5031), ("OAK ST", 0.5012))
]
MINOR_CORNERS += [
    ("N STATE ST", "W DIAG ST", 0.5000, 0.5010, ""),
    ("N WELLS ST", "W DIAG ST", 0.4976, 0.5020, ""),
    ("N FRANKLIN ST", "W DIAG ST", 0.4964, 0.5030, ""),
]


@pytest.mark.django_db
def test_a_minor_street_that_grid_streets_read_at_one_hundred_becomes_a_grid_line(grid_city):
    from layers import geocoding

    grid_city("minor streets", MINOR_CORNERS, MINOR_GRID)
    idx = geocoding.index()
    assert idx.derived == {"ELM ST": 300.0}  # not Oak (120 is on no hundred line), not Diag (readings spread)
    # 305 N State is in the block that starts at Elm: north of it, though the even spread of Madison to
    # North Ave would put the 300 line 11 m south of Elm.
    assert geocoding.geocode("305 N State St").lat > 0.5031
    assert geocoding.geocode("295 N State St").lat < 0.5031


@pytest.mark.django_db
def test_without_the_setting_no_grid_line_is_derived(grid_city):
    from layers import geocoding

    grid_city("minor streets, none derived", MINOR_CORNERS, MINOR_GRID.replace("derive_min_corners = 3\n", ""))
    assert geocoding.index().derived == {}
    assert geocoding.geocode("305 N State St").lat < 0.5031  # the even spread: the 300 line at 0.5030


# ---- a corner inside a hundred-block: the block profile spans corner to corner --------------------------

SPLIT_GRID = """
[north_south]
"MADISON ST" = 0
"DIVISION ST" = 1200
[east_west]
"STATE ST" = 0
"WABASH AVE" = 45
"MICHIGAN AVE" = 100
"""
# Madison crosses State at lon 0.5000, Wabash (45 E) at 0.5010 and Michigan (100 E) at 0.5030: the block from
# State to Michigan is cut by Wabash, and its two parts are not in proportion to their numbers.
SPLIT_CORNERS = [
    (f"N {ns}", f"{'W' if ns == 'STATE ST' else 'E'} {ew}", lon, lat, "")
    for ns, lon in (("STATE ST", 0.5000), ("WABASH AVE", 0.5010), ("MICHIGAN AVE", 0.5030))
    for ew, lat in (("MADISON ST", 0.5000), ("DIVISION ST", 0.5060))
]


@pytest.mark.django_db
def test_a_corner_inside_a_hundred_block_starts_a_block_of_its_own(grid_city):
    from layers import geocoding

    grid_city("split block", SPLIT_CORNERS, SPLIT_GRID)
    # No address points: the profile is the even spread, corner to corner. 18 E is 18/45 of State to Wabash;
    # 67 E is 22/55 of Wabash to Michigan (spread over State to Michigan, 18 E would be at 0.50054).
    assert geocoding.geocode("18 E Madison St").lon == pytest.approx(0.5004, abs=1e-6)
    assert geocoding.geocode("67 E Madison St").lon == pytest.approx(0.5018, abs=1e-6)
    back = geocoding.reverse(0.5018, 0.5000)  # and back: the number where the point is
    assert back["address"] in ("67 E MADISON ST", "66 E MADISON ST", "68 E MADISON ST")


# ---- a street that skips a hundred line takes the shape of the streets beside it -----------------------

GAP_GRID = """
[north_south]
"MADISON ST" = 0
"OAK ST" = 400
"DIVISION ST" = 1200
[east_west]
"STATE ST" = 0
"""
# State crosses Madison (0) at lat 0.5000, Oak (400 N) at 0.5016 and Division (1200 N) at 0.5060: blocks are
# short south of Oak. Pine St, 80 m west, crosses Madison and Division but not Oak (a park between).
GAP_CORNERS = [
    ("N STATE ST", "W MADISON ST", 0.5000, 0.5000, ""),
    ("N STATE ST", "W OAK ST", 0.5000, 0.5016, ""),
    ("N STATE ST", "W DIVISION ST", 0.5000, 0.5060, ""),
    ("N PINE ST", "W MADISON ST", 0.4990, 0.5000, ""),
    ("N PINE ST", "W DIVISION ST", 0.4990, 0.5060, ""),
]


@pytest.mark.django_db
def test_a_street_that_skips_a_hundred_line_takes_its_place_from_the_street_beside_it(grid_city):
    from layers import geocoding

    grid_city("gap", GAP_CORNERS, GAP_GRID)
    # A straight line from Madison to Division would put 400 N Pine at 0.5020; State has the 400 line at 0.5016.
    assert geocoding.geocode("400 N Pine St").lat == pytest.approx(0.5016, abs=1e-6)
    assert geocoding.geocode("800 N Pine St").lat == pytest.approx(0.5038, abs=1e-6)
    assert geocoding.reverse(0.4990, 0.5016)["address"] in ("400 N PINE ST", "401 N PINE ST")
