"""Planner statistics: repeat locations, Getis-Ord Gi* hot and cold spots with false-discovery control, and
emerging trends. No Django here: plain arrays in, plain results out, so the tests and the benchmark run the
very code the page runs, and another front end could too.

Choices, stated once (the page repeats them):
- **Grid**: H3 hexagons (the `h3` package). Every cell of the study area is a unit, empty cells included (a
  hot spot is only hot against the cold around it). H3 speaks (lat, lng): `cells_of` and `cell_polygon` are
  the only places here that touch its axis order; everything else names `lon` and `lat` arrays.
- **Baseline**: against an even spread over the area (classic Gi*: finds where requests concentrate), or
  against a model of where they usually fall (`expected_counts`: each ward's rate of the type, spread like
  the ward's other requests; finds places where a problem stands out from the place's usual demand).
- **Neighbourhood**: the cells within `k` grid steps (a distance band of k rings), plus the cell itself (Gi*),
  binary weights. `k` is the planner's, or picked as ArcGIS's Optimized Hot Spot Analysis does: incremental
  spatial autocorrelation, the first peak of global Moran's I z-score over k = 1…5.
- **Statistic**: `esda.G_Local(star=True, transform="B")` with libpysal weights gives the z-scores; p-values
  are analytical, two-sided, the larger of esda's normal one and the exact count one (see `gi_star`);
  Benjamini-Hochberg false-discovery control across all units (`scipy.stats.false_discovery_control`).
- **Trend**: the last K weeks of a cell against the cell's own earlier weeks: given the cell's total n, the
  recent count is Binomial(n, K / all weeks) if the rate did not change; two-sided exact p-values, BH across
  the cells that have any request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import h3
import h3.api.basic_int as h3i
import numpy as np
from scipy import sparse, stats
from scipy.spatial import cKDTree

M_PER_DEG = 111_320.0
CONFIDENCE = ((0.01, 99), (0.05, 95), (0.10, 90))  # FDR q-value cut -> confidence level drawn
SCALES = (1, 2, 3, 4, 5)


class PlannerInputError(ValueError):
    """A parameter the statistics cannot work with; the message says what was expected."""


# ---- coordinates and the hexagonal grid ------------------------------------------------------------------


def to_metres(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local metres (equirectangular about the points' mean latitude): within a city the error is far below the
    radii used here, and a KD-tree then answers 'within r metres' directly."""
    if len(lat) == 0:
        return np.zeros(0), np.zeros(0)
    c = math.cos(math.radians(float(np.mean(lat))))
    return np.asarray(lon, float) * M_PER_DEG * c, np.asarray(lat, float) * M_PER_DEG


def cells_of(lon: np.ndarray, lat: np.ndarray, res: int) -> np.ndarray:
    """The H3 cell of each point, as 64-bit integers (H3 takes latitude first; integers are 3x faster than the
    hex strings, which only the exports use: `cell_name`)."""
    _check_res(res)
    return np.fromiter(
        (
            h3i.latlng_to_cell(y, x, res)
            for x, y in zip(np.asarray(lon).tolist(), np.asarray(lat).tolist(), strict=True)
        ),
        dtype=np.uint64,
        count=len(lon),
    )


def cell_name(cell: int | str) -> str:
    """H3's hex name of a cell (the integer in hexadecimal, as `h3.int_to_str` writes it)."""
    return cell if isinstance(cell, str) else format(int(cell), "x")


def cell_polygon(cell: int | str) -> list[list[float]]:
    """A cell's outline as a closed GeoJSON ring ([lon, lat] pairs)."""
    ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell_name(cell))]
    return [*ring, ring[0]]


def area_cells(geo: Any, res: int) -> set[int]:
    """The cells whose centres fall in an area (anything with `__geo_interface__` or a GeoJSON dict)."""
    _check_res(res)
    return set(h3i.geo_to_cells(geo, res))


def ring_adjacency(cells: np.ndarray, k: int) -> sparse.csr_matrix:
    """Binary adjacency of cells within k grid steps of each other (the cell itself left out)."""
    pos = {c: i for i, c in enumerate(cells.tolist())}
    rows: list[int] = []
    cols: list[int] = []
    for i, c in enumerate(cells.tolist()):
        for d in h3i.grid_disk(c, k):
            j = pos.get(d)
            if j is not None and j != i:
                rows.append(i)
                cols.append(j)
    n = len(cells)
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def _check_res(res: int) -> None:
    if not 6 <= int(res) <= 11:
        raise PlannerInputError(f"H3 resolution must be 6 to 11 (about 36 km² down to 0.002 km² a cell); got {res}")


# ---- repeat locations ------------------------------------------------------------------------------------


@dataclass
class Repeat:
    """One repeat location: the request at its centre and every request within the radius (indices)."""

    centre: int
    members: list[int]


def repeat_locations(x: np.ndarray, y: np.ndarray, radius_m: float, min_count: int) -> list[Repeat]:
    """Places with at least `min_count` requests within `radius_m` of one request's location.

    Greedy and disjoint, so a place is counted once: the request with the most others within the radius is a
    centre first and takes every not-yet-taken request within the radius; then the next, while a centre still
    gathers `min_count`. Ties go to the earlier index (callers pass requests oldest first). Same-address
    requests geocode to one point, so they always fall together.
    """
    if radius_m <= 0 or min_count < 2:
        raise PlannerInputError("radius must be positive and the minimum count at least 2")
    n = len(x)
    if n < min_count:
        return []
    pts = np.column_stack([x, y])
    tree = cKDTree(pts)
    counts = np.asarray(tree.query_ball_point(pts, radius_m, return_length=True))
    candidates = np.flatnonzero(counts >= min_count)
    order = candidates[np.lexsort((candidates, -counts[candidates]))]
    taken = np.zeros(n, dtype=bool)
    out: list[Repeat] = []
    for i in order.tolist():
        if taken[i]:
            continue
        near = np.asarray(tree.query_ball_point(pts[i], radius_m), dtype=int)
        free = near[~taken[near]]
        if len(free) < min_count:
            continue
        taken[free] = True
        out.append(Repeat(centre=i, members=sorted(free.tolist())))
    out.sort(key=lambda r: (-len(r.members), r.centre))
    return out


# ---- Gi* -------------------------------------------------------------------------------------------------


@dataclass
class GiResult:
    """Per unit, in the order given: z-score, two-sided p, BH q-value, and the confidence bin (signed: +99 is hot
    at 99 %, -95 cold at 95 %, 0 not significant at the planner's alpha)."""

    z: np.ndarray
    p: np.ndarray
    q: np.ndarray
    bin: np.ndarray
    alpha: float


def weights(neighbours: dict[Any, Sequence[Any]], ids: Sequence[Any]) -> Any:
    """libpysal weights from a neighbour list (units with no neighbour stay islands: Gi* still has the unit
    itself). For a handful of areas (wards); the grid uses `ring_weights`."""
    from libpysal.weights import W  # pulls in geopandas (~2 s): imported when an analysis runs, not at start-up

    ids = list(ids)
    known = set(ids)
    nb = {i: [j for j in neighbours.get(i, ()) if j in known and j != i] for i in ids}
    return W(nb, id_order=ids, silence_warnings=True)


def ring_weights(cells: Sequence[int] | np.ndarray, k: int, with_self: bool = False) -> Any:
    """Cells within k grid steps of each other are neighbours (a distance band on the hexagonal grid), as a
    libpysal Graph (built from a sparse matrix: ten times faster than a W at street scale). `with_self` puts
    each cell in its own window already, as Gi* wants (esda would otherwise add it, slowly, on every call)."""
    from libpysal.graph import Graph  # see `weights`

    if not 1 <= int(k) <= 10:
        raise PlannerInputError(f"neighbourhood must be 1 to 10 rings; got {k}")
    ids = np.asarray(cells, dtype=np.uint64)
    adjacency = ring_adjacency(ids, int(k))
    if with_self:
        adjacency = (adjacency + sparse.identity(len(ids), format="csr")).tocsr()
    return Graph.from_sparse(adjacency, ids=ids)


def gi_star(
    counts: np.ndarray, w: Any, alpha: float = 0.05, exposure: np.ndarray | None = None, model: bool = False
) -> GiResult:
    """Getis-Ord Gi* on counts per unit: z-scores from esda; two-sided p-values that must pass two nulls; BH
    false-discovery control across all units.

    Why two: esda's analytical p-value (normal curve, variance from the observed cells) allows for the city's
    own unevenness, but at street scale most cells hold 0-2 requests and the normal tail then overstates
    significance hundreds of times (a window expecting 2 that holds 9: p = 2e-6 from the curve, 4e-4 in
    truth). The exact count null (under complete spatial randomness with the total fixed, a window's count is
    Binomial(total, window exposure / all exposure)) is right for sparse counts but blind to unevenness. A unit
    is significant only when both say so: p = max of the two (`exposure` is each unit's area; equal for a
    hexagonal grid when left out).

    With `model=True`, `exposure` is each unit's expected count from a model of that unevenness
    (`expected_counts`), and the exact count null alone decides: the normal curve over ratios of tiny
    expectations would only measure their noise."""
    from esda.getisord import G_Local  # see `weights`: a slow import, paid by analyses only

    if not 0 < alpha < 1:
        raise PlannerInputError(f"alpha must be between 0 and 1; got {alpha}")
    y = np.asarray(counts, dtype=float)
    n = len(y)
    if n < 3 or not np.any(y != y[0]):
        zeros = np.zeros(n)
        return GiResult(zeros, np.ones(n), np.ones(n), np.zeros(n, dtype=int), alpha)
    expo = np.ones(n) if exposure is None else np.asarray(exposure, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):  # a window holding every unit has no variance: z = 0
        # star=None: Gi* when the weights already hold each unit itself (`ring_weights(with_self=True)`), else
        # esda adds it; either way the window includes the unit.
        star = None if _has_self(w) else True
        g = G_Local(y / expo * expo.mean(), w, transform="B", star=star, permutations=0)
    z = np.nan_to_num(np.asarray(g.Zs, dtype=float))
    window = g.w.sparse  # esda's own weights, self included: the windows its z-scores were computed on
    observed = np.rint(window @ y)
    share = (window @ expo) / expo.sum()
    total = int(np.rint(y.sum()))
    upper = stats.binom.sf(observed - 1, total, share)
    lower = stats.binom.cdf(observed, total, share)
    p_exact = np.minimum(1.0, 2 * np.minimum(upper, lower))
    p_normal = np.clip(2 * np.nan_to_num(np.asarray(g.p_norm, dtype=float), nan=0.5), 0, 1)
    p = p_exact if model else np.maximum(p_exact, p_normal)
    q = stats.false_discovery_control(p, method="bh")
    direction = np.sign(observed - total * share)
    return GiResult(z, p, q, confidence_bins(direction, q, alpha), alpha)


def _has_self(w: Any) -> bool:
    return bool(np.all(sparse.csr_matrix(w.sparse).diagonal() > 0))


def confidence_bins(direction: np.ndarray, q: np.ndarray, alpha: float) -> np.ndarray:
    level = np.zeros(len(direction), dtype=int)
    for cut, conf in reversed(CONFIDENCE):
        level[q <= cut] = conf
    level[q > alpha] = 0
    return (np.sign(direction) * level).astype(int)


def choose_scale(
    values: np.ndarray, cells: Sequence[int] | np.ndarray, scales: Sequence[int] = SCALES
) -> tuple[int, list[dict]]:
    """Incremental spatial autocorrelation: global Moran's I z-score at each ring distance; the first peak is
    the scale at which clustering is most pronounced (Optimized Hot Spot Analysis). Without a peak, the
    largest z; without any clustering at all, one ring."""
    from esda.moran import Moran  # see `weights`

    y = np.asarray(values, dtype=float)
    curve: list[dict] = []
    if len(y) < 3 or not np.any(y != y[0]):
        return 1, curve
    for k in scales:
        m = Moran(y, ring_weights(cells, k), transformation="r", permutations=0)
        curve.append({"k": int(k), "moran_i": float(m.I), "z": float(np.nan_to_num(m.z_norm))})
    zs = [c["z"] for c in curve]
    for i in range(1, len(zs) - 1):
        if zs[i] > zs[i - 1] and zs[i] >= zs[i + 1] and zs[i] > 1.96:
            return curve[i]["k"], curve
    best = int(np.argmax(zs))
    return (curve[best]["k"] if zs[best] > 1.96 else 1), curve


# ---- emerging trends -------------------------------------------------------------------------------------


@dataclass
class Trend:
    """Per unit: recent and earlier counts, the two-sided p and BH q of 'the recent rate differs', its direction
    (+1 up, -1 down, 0 none at alpha) and the emerging label ('new', 'intensifying', 'persistent', 'diminishing'
    or '')."""

    recent: np.ndarray
    earlier: np.ndarray
    p: np.ndarray
    q: np.ndarray
    direction: np.ndarray
    label: np.ndarray


def trend_test(recent: np.ndarray, earlier: np.ndarray, recent_weeks: int, earlier_weeks: int, alpha: float) -> Any:
    """Exact binomial test per unit of 'the last K weeks have the same weekly rate as the weeks before'."""
    if recent_weeks < 1 or earlier_weeks < 1:
        raise PlannerInputError("both periods need at least one week")
    r = np.asarray(recent, dtype=int)
    e = np.asarray(earlier, dtype=int)
    n = r + e
    p0 = recent_weeks / (recent_weeks + earlier_weeks)
    upper = stats.binom.sf(r - 1, n, p0)  # P(X >= r)
    lower = stats.binom.cdf(r, n, p0)  # P(X <= r)
    p = np.where(n > 0, np.minimum(1.0, 2 * np.minimum(upper, lower)), 1.0)
    q = np.ones(len(p))
    tested = n > 0
    if tested.any():
        q[tested] = stats.false_discovery_control(p[tested], method="bh")
    direction = np.where(q <= alpha, np.sign(r / recent_weeks - e / earlier_weeks), 0).astype(int)
    return p, q, direction


def emerging(
    recent: np.ndarray,
    earlier: np.ndarray,
    recent_weeks: int,
    earlier_weeks: int,
    w: Any,
    alpha: float,
    expected: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> Trend:
    """Emerging hot spots, in the spirit of ArcGIS's Emerging Hot Spot Analysis with two periods: Gi* on each
    period; a cell hot now and not before is *new*; hot in both and rising *intensifying*; hot in both with no
    significant change *persistent*; hot before and significantly falling *diminishing*."""
    p, q, direction = trend_test(recent, earlier, recent_weeks, earlier_weeks, alpha)
    e_now, e_before = expected
    hot_now = gi_star(np.asarray(recent, float), w, alpha, e_now, model=e_now is not None).bin > 0
    hot_before = gi_star(np.asarray(earlier, float), w, alpha, e_before, model=e_before is not None).bin > 0
    label = np.full(len(p), "", dtype=object)
    label[hot_now & ~hot_before] = "new"
    label[hot_now & hot_before & (direction == 0)] = "persistent"
    label[hot_now & hot_before & (direction > 0)] = "intensifying"
    label[hot_before & (direction < 0)] = "diminishing"
    return Trend(np.asarray(recent), np.asarray(earlier), p, q, direction, label)


# ---- one analysis ----------------------------------------------------------------------------------------


@dataclass
class Grid:
    """Counts per study-area cell; `cells` sorted (64-bit H3 integers), so `locate` is a binary search."""

    cells: np.ndarray
    counts: np.ndarray

    def locate(self, point_cells: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.cells, point_cells)


def grid_counts(point_cells: np.ndarray, study: set[int] | np.ndarray) -> Grid:
    """Counts per cell over the study area plus any cell a point falls in outside it (nothing is dropped)."""
    pc = np.asarray(point_cells, dtype=np.uint64)
    cells = np.union1d(np.fromiter(study, dtype=np.uint64, count=len(study)), pc)
    counts = np.bincount(np.searchsorted(cells, pc), minlength=len(cells)).astype(float)
    return Grid(cells, counts)


def expected_counts(
    is_type: np.ndarray, strata: np.ndarray, where: np.ndarray, n_cells: int, prior: float = 0.5
) -> np.ndarray:
    """Indirect standardisation: each cell's expected count of the chosen types if, inside each stratum (ward),
    they fell like the stratum's other requests do. Expected = the stratum's count of the types x the cell's
    share of the stratum's other requests (plus `prior` x the stratum's mean per cell, so a cell with no other
    request yet is not expected to hold none). `where` is each request's cell position; strata < 0 form one
    stratum of their own."""
    expected = np.zeros(n_cells)
    for stratum in np.unique(strata).tolist():
        inside = strata == stratum
        n = int((is_type & inside).sum())
        if n == 0:
            continue
        others = np.bincount(where[inside & ~is_type], minlength=n_cells).astype(float)
        cells = np.unique(where[inside])
        share = others[cells] + prior * max(others[cells].mean(), 1e-9)
        expected[cells] += n * share / share.sum()
    return expected


def hot_spots(
    point_cells: np.ndarray,
    study: set[int] | np.ndarray,
    *,
    k: int | None,
    alpha: float,
    expected: Callable[[Grid], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Gi* over the study grid; `k=None` picks the scale by incremental spatial autocorrelation. With
    `expected` (a function of the grid giving each cell's expected count), the cells are tested against that
    model instead of against an even spread (see `gi_star`)."""
    grid = grid_counts(point_cells, study)
    exp = expected(grid) if expected else None
    curve: list[dict] = []
    if k is None:
        ratio = grid.counts if exp is None else grid.counts / np.maximum(exp, 1e-9) * exp.mean()
        k, curve = choose_scale(ratio, grid.cells)
    w = ring_weights(grid.cells, k, with_self=True)
    gi = gi_star(grid.counts, w, alpha, exposure=exp, model=exp is not None)
    return {"grid": grid, "k": k, "scale_curve": curve, "gi": gi, "w": w, "expected": exp}
