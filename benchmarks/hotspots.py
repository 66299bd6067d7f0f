"""Planner hot spots on the demo's synthetic history, whose planted hot spots are the known truth.

Quality, per type that has planted spots (12 spots of 10 requests within 15 m over the history,
`fixtures/chicago/assumptions.toml`), scored on the synthetic history's own rows (the replayed real requests
have real clusters the planted truth does not list). Ours is the page's default for one type: Gi* against
the usual baseline (each ward's rate of the type, spread like the ward's other requests), H3 resolution 11,
one ring, BH FDR at 0.05, hot cells. The peer is what a heat-map user sees: the top 5 % of the same cells by
raw count. Recall: planted spots with a flagged cell whose window holds one of its requests. False
discoveries: flagged cells whose window holds no planted request of that type. The classic baseline (an even
spread over the city, resolution 9) is reported beside it in the details.

Speed: repeat locations + Gi* + FDR (and the emerging-trend tests the page runs with them) on 100 k and 1 M
requests drawn from the demo's locations with 20 m jitter; the peer is the heat map's own work (cells and
counts) on the same points.

    python benchmarks/hotspots.py [--json] [--skip-1m]
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
from _common import Result, parser, setup_django


def score(cells: dict[str, list], truth_cells: set[int], k: int, h3i: Any) -> tuple[int, int, set[int]]:
    """(flagged, flagged away from any planted request, planted cells whose window is flagged)."""
    flagged = {int(h3i.str_to_int(c)) for c, b in zip(cells["cell"], cells["bin"], strict=True) if b > 0}
    near = {d for t in truth_cells for d in h3i.grid_disk(t, k)}
    hit = {t for t in truth_cells if flagged & set(h3i.grid_disk(t, k))}
    return len(flagged), len(flagged - near), hit


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--skip-1m", action="store_true", help="time 100 k only")
    args = p.parse_args()
    setup_django()

    import h3.api.basic_int as h3i

    from gis_app.models import ImportBatch, ServiceRequest, ServiceType
    from gis_app.planner import stats
    from gis_app.planner.analysis import _cells, parse_filters, read_rows
    from gis_app.planner.places import layer_in_force
    from layers.models import LayerKind

    res = Result("hotspots")
    batch = ImportBatch.objects.filter(kind="synthetic").order_by("-loaded_at").first()
    if batch is None:
        raise SystemExit("no synthetic history: run `make demo-data` first")
    days = int(batch.counts.get("days", 84))
    base = parse_filters({"days": days})
    t0 = time.perf_counter()
    every = read_rows(base)
    read_s = time.perf_counter() - t0
    mine = set(ServiceRequest.objects.filter(import_batch=batch).values_list("pk", flat=True))
    every = every.subset(np.fromiter((int(i) in mine for i in every.ids), dtype=bool, count=len(every.ids)))
    planted = dict(
        ServiceRequest.objects.filter(import_batch=batch, source_data__has_key="hot_spot").values_list(
            "pk", "source_data__hot_spot"
        )
    )
    code_of = dict(ServiceType.objects.values_list("pk", "code"))
    layer = layer_in_force(LayerKind.WARDS, base.end)
    quiet = lambda stage, share: None  # noqa: E731
    tally: dict[str, dict[str, Any]] = {
        name: {"flagged": 0, "false": 0, "hit": set()} for name in ("usual", "city", "heat")
    }
    spots_by_type: dict[int, set[int]] = {}
    for i in np.flatnonzero(np.isin(every.ids, list(planted))).tolist():
        spots_by_type.setdefault(int(every.type_ids[i]), set()).add(int(planted[int(every.ids[i])]))
    n_spots = len({s for v in spots_by_type.values() for s in v})
    for type_id in sorted(spots_by_type):
        is_type = every.type_ids == type_id
        rows = every.subset(is_type)
        planted_rows = np.isin(rows.ids, list(planted))
        for name, res_, baseline in (("usual", 11, "usual"), ("city", 9, "city")):
            f = dataclasses.replace(base, types=(code_of[type_id],), res=res_, k=1, baseline=baseline)
            out = _cells(rows, every if baseline == "usual" else rows, f, layer, quiet)
            truth = set(stats.cells_of(rows.lon[planted_rows], rows.lat[planted_rows], res_).tolist())
            flagged, false, hit = score(out["cells"], truth, 1, h3i)
            tally[name]["flagged"] += flagged
            tally[name]["false"] += false
            tally[name]["hit"] |= {
                int(planted[int(rows.ids[j])])
                for j in np.flatnonzero(planted_rows)
                if int(stats.cells_of(rows.lon[j : j + 1], rows.lat[j : j + 1], res_)[0]) in hit
            }
            if name == "usual":  # the heat map on the same cells: the top 5 % by raw count
                counts = np.array(out["cells"]["count"])
                top = set(np.argsort(-counts, kind="stable")[: int(np.ceil(0.05 * len(counts)))].tolist())
                heat = dict(out["cells"], bin=[1 if i in top else 0 for i in range(len(counts))])
                flagged, false, hit = score(heat, truth, 0, h3i)
                tally["heat"]["flagged"] += flagged
                tally["heat"]["false"] += false
                tally["heat"]["hit"] |= {
                    int(planted[int(rows.ids[j])])
                    for j in np.flatnonzero(planted_rows)
                    if int(stats.cells_of(rows.lon[j : j + 1], rows.lat[j : j + 1], res_)[0]) in hit
                }
    recall = {k: len(v["hit"]) / n_spots for k, v in tally.items()}
    share = {k: v["false"] / max(1, v["flagged"]) for k, v in tally.items()}
    res.add("recall of planted hot spots", "share", recall["usual"], recall["heat"], "heat map top 5 %")
    res.add("flagged cells not planted", "share", share["usual"], share["heat"], "heat map top 5 %", better="lower")
    res.add("cells flagged", "cells", tally["usual"]["flagged"], tally["heat"]["flagged"], "heat map top 5 %",
            better="lower")  # fmt: skip

    rng = np.random.default_rng(23)
    for n in [100_000] + ([] if args.skip_1m else [1_000_000]):
        pick = rng.integers(len(every.lon), size=n)
        jitter = rng.normal(0, 20 / stats.M_PER_DEG, size=(2, n))
        big = every.subset(pick)
        big.lon, big.lat = big.lon + jitter[0], big.lat + jitter[1]
        chosen = int(np.bincount(big.type_ids).argmax())
        rows = big.subset(big.type_ids == chosen)
        f = dataclasses.replace(base, types=(code_of[chosen],), res=11, k=1, baseline="usual")
        t0 = time.perf_counter()
        x, y = stats.to_metres(big.lon, big.lat)
        for t in np.unique(big.type_ids):
            m = big.type_ids == t
            stats.repeat_locations(x[m], y[m], 30.0, 3)
        _cells(rows, big, f, layer, quiet)
        ours_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        g = stats.grid_counts(stats.cells_of(rows.lon, rows.lat, 11), set())
        np.quantile(g.counts, 0.95)
        peer_s = time.perf_counter() - t0
        res.add(f"repeats + Gi* + FDR, {n:,} requests", "s", ours_s, peer_s, "heat map counts", better="lower")
    res.details = {
        "planted_spots": n_spots,
        "types_with_spots": len(spots_by_type),
        "synthetic_rows_scored": len(every.ids),
        "read_seconds": round(read_s, 2),
        "usual_baseline_res11": {**{k: v for k, v in tally["usual"].items() if k != "hit"}, "recall": recall["usual"]},
        "city_baseline_res9": {
            **{k: v for k, v in tally["city"].items() if k != "hit"},
            "recall": recall["city"],
            "false_share": share["city"],
        },
        "heat_map": {k: v for k, v in tally["heat"].items() if k != "hit"},
    }
    res.notes = [
        "the city baseline flags where a type is busy (its ward mix and the street pattern), which the planted "
        "truth does not list: see details; the usual baseline asks where a type stands out from the place's usual "
        "demand, which is what the planted spots are",
    ]
    res.print(args.json)


if __name__ == "__main__":
    main()
