"""The planner's statistics (gis_app/planner/stats.py, no Django) on literal little grids whose answer is known."""

from __future__ import annotations

import h3.api.basic_int as h3
import numpy as np
import pytest
from esda.getisord import G_Local
from libpysal.weights import W

from gis_app.planner import stats

# A literal grid: the H3 cells (resolution 9, as integers) within 8 steps of one cell near the Loop, 217 hexagons.
CENTRE = h3.latlng_to_cell(41.88, -87.63, 9)
CELLS = sorted(h3.grid_disk(CENTRE, 8))
AT = {c: i for i, c in enumerate(CELLS)}
FAR = sorted(h3.grid_ring(CENTRE, 6))[0]  # a cell well away from the centre, for the planted gap


@pytest.fixture(scope="module")
def ring1():  # type: ignore[no-untyped-def]
    return stats.ring_weights(CELLS, 1)


def noise(seed: int, mean: float) -> np.ndarray:
    """Uniform noise: `mean` requests a cell on average, each placed in a cell at random (the total fixed)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(int(mean * len(CELLS)), np.ones(len(CELLS)) / len(CELLS)).astype(float)


def test_a_planted_cluster_is_hot_and_a_planted_gap_is_cold(ring1) -> None:  # type: ignore[no-untyped-def]
    y = noise(1, 8)
    for c in h3.grid_disk(CENTRE, 1):
        y[AT[c]] += 12  # seven cells with 12 more requests each
    for c in h3.grid_disk(FAR, 1):
        y[AT[c]] = 0  # seven empty cells where about 8 each were expected
    gi = stats.gi_star(y, ring1, alpha=0.05)
    assert gi.bin[AT[CENTRE]] == 99
    assert gi.bin[AT[FAR]] < 0
    corner = AT[sorted(h3.grid_ring(CENTRE, 8))[3]]
    assert gi.bin[corner] == 0  # far from both: nothing


def test_uniform_noise_gives_no_cell_after_fdr_in_at_least_95_of_100_seeded_runs(ring1) -> None:  # type: ignore[no-untyped-def]
    dense = sum(not (stats.gi_star(noise(seed, 8), ring1, alpha=0.05).bin != 0).any() for seed in range(100))
    sparse = sum(not (stats.gi_star(noise(seed, 0.3), ring1, alpha=0.05).bin != 0).any() for seed in range(100))
    assert dense >= 95
    assert sparse >= 95  # street scale: most cells hold 0 or 1 (the normal curve alone fails here)


def test_z_scores_equal_esda_on_weights_wired_independently_to_1e_9() -> None:
    y = noise(7, 3)
    for c in h3.grid_disk(CENTRE, 1):
        y[AT[c]] += 5
    for k in (1, 2):
        # The test's own wiring: every pair of cells at most k steps apart, straight from h3.
        own = W({c: [d for d in CELLS if d != c and h3.grid_distance(c, d) <= k] for c in CELLS}, id_order=CELLS)
        expected = G_Local(y, own, transform="B", star=True, permutations=0).Zs
        points = np.array([c for c, n in zip(CELLS, y, strict=True) for _ in range(int(n))], dtype=np.uint64)
        got = stats.hot_spots(points, set(CELLS), k=k, alpha=0.05)
        assert got["grid"].cells.tolist() == CELLS
        np.testing.assert_allclose(got["gi"].z, expected, rtol=0, atol=1e-9)


def test_the_scale_is_picked_at_the_first_peak_of_morans_i() -> None:
    y = noise(3, 2)
    for c in h3.grid_disk(CENTRE, 2):
        y[AT[c]] += 10  # one blob two rings wide
    k, curve = stats.choose_scale(y, CELLS, scales=(1, 2, 3, 4))
    assert [c["k"] for c in curve] == [1, 2, 3, 4]
    assert all(c["z"] > 1.96 for c in curve)
    z = [c["z"] for c in curve]
    peaks = [curve[i]["k"] for i in range(1, len(z) - 1) if z[i - 1] < z[i] >= z[i + 1]]
    assert k == (peaks[0] if peaks else curve[int(np.argmax(z))]["k"])
    flat_k, _ = stats.choose_scale(np.full(len(CELLS), 4.0), CELLS)
    assert flat_k == 1  # nothing clusters: the smallest neighbourhood


def brute_force_repeats(x: np.ndarray, y: np.ndarray, radius: float, n_min: int) -> list[tuple[int, list[int]]]:
    """The same rule written the slow way: a full distance matrix and plain loops."""
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    near = d <= radius
    order = sorted(range(len(x)), key=lambda i: (-int(near[i].sum()), i))
    taken: set[int] = set()
    out = []
    for i in order:
        if i in taken or near[i].sum() < n_min:
            continue
        free = [j for j in range(len(x)) if near[i, j] and j not in taken]
        if len(free) >= n_min:
            taken.update(free)
            out.append((i, free))
    return sorted(out, key=lambda r: (-len(r[1]), r[0]))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_repeat_location_counts_equal_a_brute_force_count(seed: int) -> None:
    rng = np.random.default_rng(seed)
    spots = rng.uniform(0, 2000, size=(15, 2))
    x = np.concatenate([rng.uniform(0, 2000, 300), spots[:, 0].repeat(6) + rng.normal(0, 8, 90)])
    y = np.concatenate([rng.uniform(0, 2000, 300), spots[:, 1].repeat(6) + rng.normal(0, 8, 90)])
    got = [(r.centre, r.members) for r in stats.repeat_locations(x, y, 30.0, 3)]
    assert got == brute_force_repeats(x, y, 30.0, 3)
    assert len(got) >= 12


def test_three_requests_on_one_corner_are_one_place_and_a_fourth_across_town_is_not() -> None:
    x = np.array([0.0, 5.0, 0.0, 3000.0])
    y = np.array([0.0, 0.0, 20.0, 3000.0])
    places = stats.repeat_locations(x, y, 30.0, 3)
    assert [(len(p.members), sorted(p.members)) for p in places] == [(3, [0, 1, 2])]
    assert stats.repeat_locations(x, y, 30.0, 4) == []


def test_a_surge_in_the_last_weeks_is_a_new_or_intensifying_hot_spot(ring1) -> None:  # type: ignore[no-untyped-def]
    earlier = noise(11, 8)
    recent = noise(12, 2)  # 4 recent weeks against 16 earlier: the same weekly rate
    for c in h3.grid_disk(CENTRE, 1):
        recent[AT[c]] += 15
    trend = stats.emerging(recent, earlier, 4, 16, ring1, 0.05)
    assert trend.direction[AT[CENTRE]] == 1
    assert trend.label[AT[CENTRE]] in ("new", "intensifying")
    assert (trend.direction[[AT[c] for c in sorted(h3.grid_ring(CENTRE, 7))]] == 0).all()
    calm = stats.emerging(noise(13, 2), noise(14, 8), 4, 16, ring1, 0.05)
    assert not (calm.label != "").any()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: stats.repeat_locations(np.zeros(3), np.zeros(3), 0, 3), "radius"),
        (lambda: stats.cells_of(np.zeros(1), np.zeros(1), 15), "resolution"),
        (lambda: stats.ring_weights(CELLS, 0), "rings"),
        (lambda: stats.hot_spots(np.array(CELLS[:3], dtype=np.uint64), set(CELLS), k=1, alpha=0), "alpha"),
        (lambda: stats.gi_star(np.ones(5), None, alpha=1.5), "alpha"),
        (lambda: stats.trend_test(np.ones(2), np.ones(2), 0, 3, 0.05), "week"),
    ],
)
def test_parameters_it_cannot_use_are_refused_with_what_was_expected(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(stats.PlannerInputError, match=message):
        call()


def test_against_the_usual_baseline_a_busy_ward_is_not_hot_but_a_spot_inside_it_is() -> None:
    """Two strata (wards): the east half gets four times the requests of every type; 25 requests of the chosen
    type are planted in one cell of the quiet west. Against an even spread the busy east is hot in many places;
    against the usual baseline (each ward's rate, spread like its other requests) only the planted spot is."""
    rng = np.random.default_rng(4)
    east = np.array([h3.cell_to_latlng(c)[1] > h3.cell_to_latlng(CENTRE)[1] for c in CELLS])
    weight = np.where(east, 4.0, 1.0)
    n = 6000
    where = rng.choice(len(CELLS), size=n, p=weight / weight.sum())
    is_type = rng.random(n) < 0.3  # the chosen type: 30 % of every ward's requests
    spot = next(AT[c] for c in sorted(h3.grid_ring(CENTRE, 4)) if not east[AT[c]])  # in the quiet ward
    where = np.concatenate([where, np.full(25, spot)])
    is_type = np.concatenate([is_type, np.ones(25, dtype=bool)])
    strata = np.array([int(east[i]) for i in where])
    cells = np.array(CELLS, dtype=np.uint64)
    even = stats.hot_spots(cells[where[is_type]], set(CELLS), k=1, alpha=0.05)
    usual = stats.hot_spots(
        cells[where[is_type]],
        set(CELLS),
        k=1,
        alpha=0.05,
        expected=lambda grid: stats.expected_counts(is_type, strata, grid.locate(cells[where]), len(grid.cells)),
    )
    far_from_spot = np.array([h3.grid_distance(c, CELLS[spot]) > 1 for c in CELLS])
    assert (even["gi"].bin[east & far_from_spot] > 0).sum() >= 10  # the busy ward, hot in many places
    hot = np.flatnonzero(usual["gi"].bin > 0)
    assert len(hot) >= 1  # windows holding the spot
    assert all(h3.grid_distance(CELLS[i], CELLS[spot]) <= 1 for i in hot)  # only the spot's windows
