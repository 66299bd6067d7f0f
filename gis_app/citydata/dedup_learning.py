"""Measuring dedup against labelled duplicates, and learning its parameters from them.

Labels come from the request table itself: a history or synthetic row whose `parent` was set by the
loader (the City's duplicate flag and parent id) or by the generator (its planted ground truth). Each
labelled row is looked up "as of" its filing time, so it only sees requests filed before it and not yet
closed (gis_app.dedup.candidates with as_of=True). Thresholds are chosen on one split and reported on
another; nothing is tuned on the rows it is scored on.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection

from gis_app.dedup import Candidate, candidates
from gis_app.models import ServiceRequest, ServiceType
from layers.coords import local_metres


@dataclass
class Looked:
    """One request looked up as of its filing time."""

    request_id: int
    type_id: int
    parent_id: int | None  # the label
    cands: list[Candidate]

    @property
    def rank(self) -> int | None:
        ids = [c.request_id for c in self.cands]
        return ids.index(self.parent_id) + 1 if self.parent_id in ids else None


def look_up(
    rows: Iterable[ServiceRequest],
    *,
    radius_m: float | None = None,
    window_days: float | None = None,
    by_distance: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[Looked]:
    out = []
    for i, r in enumerate(rows, start=1):
        if r.location is None:
            continue
        found = candidates(
            r.service_type,
            r.location,
            at=r.requested_at,
            address=r.address,
            asset_id=str((r.attributes or {}).get("asset_id", "")),
            exclude_pk=r.pk,
            limit=5,
            as_of=True,
            radius_m=radius_m,
            window_days=window_days,
            located_by=r.located_by,
        )
        if by_distance:
            found = sorted(found, key=lambda c: (c.metres, c.request_id))
        out.append(Looked(r.pk, r.service_type_id, r.parent_id, found))
        if progress and i % 500 == 0:
            progress(i)
    return out


@dataclass
class Figures:
    n_pairs: int
    top1: float
    top5: float
    precision: float
    recall: float
    f1: float
    links: int
    correct: int
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    wrong_links: list[tuple[int, int]] = field(default_factory=list)  # (request, linked-to) the labels reject

    def as_dict(self) -> dict[str, Any]:
        return {
            "top1": round(self.top1, 4),
            "top5": round(self.top5, 4),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "n_pairs": self.n_pairs,
            "links": self.links,
            "ci95": {k: [round(a, 4), round(b, 4)] for k, (a, b) in self.ci.items()},
        }


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def link_decision(looked: Looked, threshold: float | Callable[[Looked], bool]) -> bool:
    if not looked.cands:
        return False
    if callable(threshold):
        return threshold(looked)
    return looked.cands[0].score >= threshold


def figures(looked: Sequence[Looked], threshold: float | Callable[[Looked], bool]) -> Figures:
    pairs = [x for x in looked if x.parent_id is not None]
    top1 = sum(1 for x in pairs if x.rank == 1)
    top5 = sum(1 for x in pairs if x.rank is not None)
    links = correct = 0
    wrong = []
    for x in looked:
        if link_decision(x, threshold):
            links += 1
            if x.parent_id is not None and x.cands[0].request_id == x.parent_id:
                correct += 1
            else:
                wrong.append((x.request_id, x.cands[0].request_id))
    n = len(pairs)
    precision = correct / links if links else 0.0
    recall = correct / n if n else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Figures(
        n_pairs=n,
        top1=top1 / n if n else 0.0,
        top5=top5 / n if n else 0.0,
        precision=precision,
        recall=recall,
        f1=f1,
        links=links,
        correct=correct,
        ci={
            "top1": wilson(top1, n),
            "top5": wilson(top5, n),
            "precision": wilson(correct, links),
            "recall": wilson(correct, n),
        },
        wrong_links=wrong,
    )


def choose_threshold(looked: Sequence[Looked], *, min_precision: float = 0.0) -> float | None:
    """The score threshold with the best F1 on `looked` (among those reaching `min_precision`, if any do); None
    when no labelled pair is ever found (nothing to learn from: the caller keeps the type's default)."""
    scores = sorted({round(x.cands[0].score, 4) for x in looked if x.cands}, reverse=True)
    best, best_key = None, (-1.0, 0.0)
    for t in scores:
        f = figures(looked, t)
        key = (1.0 if f.precision >= min_precision else 0.0, f.f1)
        if f.f1 > 0 and key > best_key:  # a threshold that finds no labelled parent has learned nothing
            best, best_key = t, key
    return best


def per_type_thresholds(
    train: Sequence[Looked], global_threshold: float, *, min_pairs: int = 10, min_precision: float = 0.0
) -> dict[int, float]:
    """A type's own threshold where it has at least `min_pairs` labelled pairs in training; else the global one."""
    out: dict[int, float] = {}
    by_type: dict[int, list[Looked]] = {}
    for x in train:
        by_type.setdefault(x.type_id, []).append(x)
    for type_id, rows in by_type.items():
        if sum(1 for x in rows if x.parent_id is not None) >= min_pairs:
            t = choose_threshold(rows, min_precision=min_precision)
            out[type_id] = global_threshold if t is None else t
    return out


@dataclass
class TypeThreshold:
    """What learning decided for one type: its threshold, the labelled pairs behind it, and on what basis."""

    threshold: float
    pairs: int  # 0: the type's default, not learned (dedup only suggests)
    basis: str  # "own pairs", "city's pooled pairs", "default" (too few pairs)


def learn_thresholds(
    looked: Sequence[Looked], types: Iterable[ServiceType], *, min_pairs: int, min_precision: float
) -> dict[int, TypeThreshold]:
    """Per type: a threshold from its own labelled pairs where it has `min_pairs`; else from the city's pooled
    pairs (the score is the same function of distance, time and address for every type) where those reach
    `min_pairs`; else its default, marked as not learned."""
    pooled_pairs = sum(1 for x in looked if x.parent_id is not None)
    pooled = choose_threshold(looked, min_precision=min_precision) if pooled_pairs >= min_pairs else None
    by_type: dict[int, list[Looked]] = {}
    for x in looked:
        by_type.setdefault(x.type_id, []).append(x)
    out: dict[int, TypeThreshold] = {}
    for st in types:
        mine = by_type.get(st.pk, [])
        pairs = sum(1 for x in mine if x.parent_id is not None)
        own = choose_threshold(mine, min_precision=min_precision) if pairs >= min_pairs else None
        if own is not None:
            out[st.pk] = TypeThreshold(own, pairs, "own pairs")
        elif pooled is not None:
            out[st.pk] = TypeThreshold(pooled, pooled_pairs, "city's pooled pairs")
        else:
            out[st.pk] = TypeThreshold(st.dedup_threshold, 0, "default")
    return out


@dataclass
class Learned:
    radius_m: float
    window_days: float
    pairs: int
    per_type: dict[int, tuple[float, float]]  # type id → (radius, window) where a type has enough pairs


def gap_of(child: ServiceRequest) -> tuple[float, float] | None:
    parent = child.parent
    if parent is None or child.location is None or parent.location is None:
        return None
    metres = local_metres(child.location.x, child.location.y, parent.location.x, parent.location.y)
    hours = abs((child.requested_at - parent.requested_at).total_seconds()) / 3600
    return metres, hours


def learn_parameters(children: Iterable[ServiceRequest], *, min_pairs: int = 10) -> Learned:
    """Radius = the farthest labelled pair plus a quarter (rounded up to 25 m, 50…250 m); window = the 99th
    percentile of time apart (whole days, 2…30): wide enough to offer every labelled parent, no wider (the
    score, not the radius, keeps far and old candidates from being linked automatically). The
    floors are there because a short sample cannot show longer gaps (1.7 days of City data cannot show a
    three-day-old repeat), not to tune the figures."""
    gaps: list[tuple[int, float, float]] = []
    for c in children:
        g = gap_of(c)
        if g is not None:
            gaps.append((c.service_type_id, g[0], g[1]))

    def fit(rows: list[tuple[int, float, float]]) -> tuple[float, float]:
        arr = np.array([(m, h) for _, m, h in rows])
        radius = min(250.0, max(50.0, math.ceil(float(arr[:, 0].max()) * 1.25 / 25) * 25))
        window = min(30.0, max(2.0, math.ceil(float(np.percentile(arr[:, 1], 99)) / 24)))
        return radius, window

    if not gaps:
        return Learned(radius_m=50.0, window_days=30.0, pairs=0, per_type={})
    radius, window = fit(gaps)
    per_type = {}
    for type_id in {t for t, _, _ in gaps}:
        rows = [g for g in gaps if g[0] == type_id]
        if len(rows) >= min_pairs:
            per_type[type_id] = fit(rows)
    return Learned(radius_m=radius, window_days=window, pairs=len(gaps), per_type=per_type)


def apply_learned(
    learned: Learned, thresholds: dict[int, TypeThreshold], types: Iterable[ServiceType], *, min_pairs: int = 1
) -> int:
    """Write learned parameters onto the service types; returns how many changed. With fewer than `min_pairs`
    labelled pairs in all, a type keeps its radius and window too."""
    changed = 0
    for st in types:
        radius, window = learned.per_type.get(st.pk, (learned.radius_m, learned.window_days))
        if learned.pairs < max(1, min_pairs):
            radius, window = st.dedup_radius_m, st.dedup_window_days
        t = thresholds.get(st.pk) or TypeThreshold(st.dedup_threshold, 0, "default")
        now = (radius, window, t.threshold, t.pairs)
        if (st.dedup_radius_m, st.dedup_window_days, st.dedup_threshold, st.dedup_learned_pairs) != now:
            st.dedup_radius_m, st.dedup_window_days, st.dedup_threshold, st.dedup_learned_pairs = now
            st.save(update_fields=["dedup_radius_m", "dedup_window_days", "dedup_threshold", "dedup_learned_pairs"])
            changed += 1
    return changed


def lookup_speed(samples: int = 1000, seed: int = 7) -> tuple[float, float, dict[str, Any]]:
    """Candidate lookup p50 and p95 (ms) over random located requests of the table as it is, with the plan."""
    ids = list(
        ServiceRequest.objects.filter(
            location__isnull=False, parent__isnull=True, service_type__location_required=True
        ).values_list("pk", flat=True)
    )
    rng = random.Random(seed)
    sample = list(
        ServiceRequest.objects.filter(pk__in=rng.sample(ids, min(samples, len(ids)))).select_related("service_type")
    )
    times = []
    for r in sample:
        assert r.location is not None
        t0 = time.perf_counter()
        candidates(r.service_type, r.location, address=r.address, exclude_pk=r.pk, located_by=r.located_by)
        times.append((time.perf_counter() - t0) * 1000)
    loc = sample[0].location
    assert loc is not None
    with connection.cursor() as cur:
        cur.execute(
            "EXPLAIN SELECT 1 FROM gis_app_servicerequest r WHERE ST_DWithin(r.location::geography, "
            "ST_GeogFromText(%s), 50)",
            [f"SRID=4326;POINT({loc.x} {loc.y})"],
        )
        plan = "\n".join(row[0] for row in cur.fetchall())
    info = {
        "rows_in_table": ServiceRequest.objects.count(),
        "plan": plan,
        "uses_geography_index": "gis_app_servicerequest_location_geog" in plan,
    }
    return statistics.median(times), statistics.quantiles(times, n=20)[18], info
