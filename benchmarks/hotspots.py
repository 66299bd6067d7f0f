"""Planner hot spots on the demo's synthetic history, whose planted hot spots are the known truth.

Quality, per type that has planted spots (12 spots of 10 requests within 15 m, `fixtures/chicago/assumptions.toml`):
ours is Gi* with the page's statistics (H3 resolution 9, one ring, BH FDR at 0.05, hot cells only); the peer
is what a heat-map user sees: the top 5 % of the study area's cells by raw count. Recall: planted spots whose
cell is flagged. False discoveries: flagged cells whose one-ring window holds no planted spot of that type
(the issue's definition; it also counts cells that are truly busier than the city, see the notes).

Speed: repeat locations + Gi* + FDR (the statistics module, no database) on 100 k and 1 M requests drawn from
the demo's locations with 20 m jitter; the peer is the heat map's own work (cells + counts) on the same points.

    python benchmarks/hotspots.py [--json] [--skip-1m]
"""

from __future__ import annotations

import json
import time

import numpy as np
from _common import Result, parser, setup_django


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--skip-1m", action="store_true", help="time 100 k only")
    args = p.parse_args()
    setup_django()

    import h3
    from django.db.models import F, FloatField, Func
    from shapely.geometry import shape

    from gis_app.models import ImportBatch, ServiceRequest
    from gis_app.planner import stats
    from gis_app.planner.analysis import _layer, _study_geojson, parse_filters, read_rows
    from layers.models import LayerKind

    res = Result("hotspots")
    batch = ImportBatch.objects.filter(kind="synthetic").order_by("-loaded_at").first()
    if batch is None:
        raise SystemExit("no synthetic history: run `make demo-data` first")
    spots: dict[tuple[int, str], list[tuple[float, float]]] = {}
    planted = (
        ServiceRequest.objects.filter(import_batch=batch, source_data__has_key="hot_spot")
        .annotate(x=Func(F("location"), function="ST_X", output_field=FloatField()))
        .annotate(y=Func(F("location"), function="ST_Y", output_field=FloatField()))
        .values_list("source_data", "service_type__code", "x", "y")
    )
    for sd, code, x, y in planted:
        spots.setdefault((int(sd["hot_spot"]), code), []).append((x, y))
    days = int(batch.counts.get("days", 84))
    f0 = parse_filters({"days": days, "k": 1})
    layer = _layer(LayerKind.WARDS, f0.end)
    assert layer is not None
    study = stats.area_cells(shape(json.loads(_study_geojson(layer[0], layer[1], None))), 9)
    t0 = time.perf_counter()
    rows = read_rows(f0)
    read_s = time.perf_counter() - t0
    from gis_app.models import ServiceType

    code_of = dict(ServiceType.objects.values_list("pk", "code"))
    codes = np.array([code_of[t] for t in rows.type_ids])
    point_cells = stats.cells_of(rows.lon, rows.lat, 9)
    ours = {"hit": 0, "flagged": 0, "false": 0}
    peer = {"hit": 0, "flagged": 0, "false": 0}
    for code in sorted({c for _, c in spots}):
        truth = [np.mean(v, axis=0) for (_, c), v in spots.items() if c == code]
        truth_cells = {h3.latlng_to_cell(float(lat), float(lon), 9) for lon, lat in truth}
        near_truth = set().union(*(h3.grid_disk(c, 1) for c in truth_cells))
        hs = stats.hot_spots(point_cells[codes == code], study, k=1, alpha=0.05)
        grid, gi = hs["grid"], hs["gi"]
        flagged = {grid.cells[i] for i in np.flatnonzero(gi.bin > 0)}
        cut = np.quantile(grid.counts, 0.95)
        heat = {grid.cells[i] for i in np.flatnonzero(grid.counts >= max(cut, 1))}
        for tally, cells in ((ours, flagged), (peer, heat)):
            tally["hit"] += len(truth_cells & cells)
            tally["flagged"] += len(cells)
            tally["false"] += len(cells - near_truth)
    n_spots = len(
        {h3.latlng_to_cell(float(np.mean(v, axis=0)[1]), float(np.mean(v, axis=0)[0]), 9) for v in spots.values()}
    )
    recall = ours["hit"] / n_spots
    peer_recall = peer["hit"] / n_spots
    fd = ours["false"] / max(1, ours["flagged"])
    peer_fd = peer["false"] / max(1, peer["flagged"])
    res.add("recall of planted hot spots", "share", recall, peer_recall, "heat map top 5 %")
    res.add("flagged cells not planted", "share", fd, peer_fd, "heat map top 5 %", better="lower")
    res.add("cells flagged", "cells", ours["flagged"], peer["flagged"], "heat map top 5 %", better="lower")

    rng = np.random.default_rng(23)
    sizes = [100_000] + ([] if args.skip_1m else [1_000_000])
    for n in sizes:
        pick = rng.integers(len(rows.lon), size=n)
        jitter = rng.normal(0, 20 / stats.M_PER_DEG, size=(2, n))
        lon, lat, types = rows.lon[pick] + jitter[0], rows.lat[pick] + jitter[1], rows.type_ids[pick]
        t0 = time.perf_counter()
        x, y = stats.to_metres(lon, lat)
        for t in np.unique(types):
            m = types == t
            stats.repeat_locations(x[m], y[m], 30.0, 3)
        pc = stats.cells_of(lon, lat, 9)
        stats.hot_spots(pc, study, k=1, alpha=0.05)
        ours_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        g = stats.grid_counts(stats.cells_of(lon, lat, 9), study)
        np.quantile(g.counts, 0.95)
        peer_s = time.perf_counter() - t0
        res.add(f"repeats + Gi* + FDR, {n:,} requests", "s", ours_s, peer_s, "heat map counts", better="lower")
    res.details = {
        "planted_spots": n_spots,
        "types_with_spots": len({c for _, c in spots}),
        "history_rows_read": len(rows.ids),
        "read_seconds": round(read_s, 2),
        "ours": ours,
        "peer": peer,
    }
    res.notes = [
        "false discoveries count every flagged cell away from a planted spot; the generator also gives each type "
        "a ward mix learned from the City's sample and puts requests on street segments, so many such cells are "
        "truly busier than the city average (a hot spot the planted truth does not list)",
    ]
    res.print(args.json)


if __name__ == "__main__":
    main()
