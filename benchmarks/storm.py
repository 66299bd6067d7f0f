"""A storm: one type reported at ten times its usual rate in three wards, with a known truth.

    python benchmarks/storm.py [--json] [--minutes 10] [--rate 20] [--issues 300]

On a throwaway copy of the demo database (stop the demo server first), served by gunicorn: the busiest
dispatchable type and the three wards where it is most reported. The truth is planted: --issues real
problems at street-side places in those wards (places the city's own requests stand at), each reported by
1 to 8 residents (mean about 3.5) within 15 m of it, in random order, at a fixed rate (open loop) for the
storm's length. The type's usual rate in the demo history is printed beside the storm's.

Printed: intake p50/p95 during the storm against the floor (100 ms); raw reports, true unique issues,
issues our dedup detected (requests left without a parent), and pair-wise link precision and recall
against the truth. Peer: the FixMyStreet rule on the same reports in the same order (link to the nearest
earlier open report of the type within 50 m).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

from _common import Result, copy_demo_database, drop_database_of, parser, setup_django_on
from intake_load import run_rate, serve, server_env, stop

HERE = Path(__file__).resolve().parent
METRES_PER_DEG = 111_320.0


def jitter(lon: float, lat: float, rng: random.Random, metres: float) -> tuple[float, float]:
    r, a = metres * math.sqrt(rng.random()), rng.random() * 2 * math.pi
    return (
        lon + r * math.cos(a) / (METRES_PER_DEG * math.cos(math.radians(lat))),
        lat + r * math.sin(a) / METRES_PER_DEG,
    )


def fms_unique(reports: list[tuple[int, float, float]]) -> dict[int, int]:
    """The FixMyStreet rule, in filing order: a report joins the nearest earlier open report of the type
    within 50 m (its root), else starts an issue. Returns report index -> root index."""
    root: dict[int, int] = {}
    seen: list[tuple[int, float, float]] = []
    for i, lon, lat in reports:
        best, best_d = None, 50.0
        for j, x, y in seen:
            d = math.hypot((x - lon) * METRES_PER_DEG * math.cos(math.radians(lat)), (y - lat) * METRES_PER_DEG)
            if d <= best_d:
                best, best_d = j, d
        root[i] = root[best] if best is not None else i
        seen.append((i, lon, lat))
    return root


def pair_scores(truth: dict[int, int], found: dict[int, int]) -> tuple[float, float]:
    """Precision and recall of 'these two reports are the same issue', over all pairs of reports."""

    def pairs(groups: dict[int, int]) -> set[tuple[int, int]]:
        by: dict[int, list[int]] = {}
        for i, g in groups.items():
            by.setdefault(g, []).append(i)
        return {(a, b) for members in by.values() for a in members for b in members if a < b}

    t, f = pairs(truth), pairs(found)
    return (len(t & f) / len(f) if f else 1.0), (len(t & f) / len(t) if t else 1.0)


def plan_storm(args: Any, key: str) -> tuple[str, list[int], list[bytes], list[int], list[tuple[float, float]]]:
    """The type, its three wards, the bodies in sending order, each body's true issue, each body's place."""
    from django.db.models import Count

    from gis_app.models import ServiceAttribute, ServiceRequest

    rng = random.Random(args.seed)
    busiest = (
        ServiceRequest.objects.filter(service_type__sensitive=False, service_type__location_required=True)
        .values("service_type__code")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    assert busiest is not None
    code = str(busiest["service_type__code"])
    wards = [
        int(w["ward_number"])
        for w in ServiceRequest.objects.filter(service_type__code=code, ward_number__isnull=False)
        .values("ward_number")
        .annotate(n=Count("id"))
        .order_by("-n")[:3]
    ]
    places = list(
        ServiceRequest.objects.filter(ward_number__in=wards, location__isnull=False)
        .order_by("?")
        .values_list("location", flat=True)[: args.issues]
    )
    answers = {
        f"attribute[{a.code}]": str((a.values or [{"key": "1"}])[0].get("key", "1"))
        for a in ServiceAttribute.objects.filter(service_type__code=code, required=True)
    }
    reports: list[tuple[int, float, float]] = []
    for issue, point in enumerate(places):
        if point is None:
            continue
        for _ in range(min(8, 1 + int(rng.expovariate(1 / 2.5)))):
            reports.append((issue, *jitter(point.x, point.y, rng, 15)))
    rng.shuffle(reports)
    bodies, truth, where = [], [], []
    for i, (issue, lon, lat) in enumerate(reports):
        form = {
            "api_key": key,
            "service_code": code,
            "lat": f"{lat:.6f}",
            "long": f"{lon:.6f}",
            "description": f"storm report {i}",
            **answers,
        }
        bodies.append(urllib.parse.urlencode(form).encode())
        truth.append(issue)
        where.append((lon, lat))
    return code, wards, bodies, truth, where


def main() -> int:
    p = parser(__doc__ or "")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=0.0, help="reports per second (default: all of them over the storm)")
    p.add_argument("--issues", type=int, default=300)
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    url = copy_demo_database("stormbench")
    if url is None:
        return 1
    env = server_env(url)
    setup_django_on(url)
    from django.db import connections
    from django.utils import timezone

    from field_api.models import Open311Key
    from gis_app.models import ServiceRequest

    server = None
    try:
        _, key = Open311Key.issue("storm", "storm@example.org")
        code, wards, bodies, truth, where = plan_storm(args, key)
        month = ServiceRequest.objects.filter(
            service_type__code=code, requested_at__gte=timezone.now() - dt.timedelta(days=28)
        ).count()
        usual_per_hour = month / (28 * 24)
        seconds = args.minutes * 60
        rate = args.rate or len(bodies) / seconds
        connections.close_all()
        server = serve(env, 5)
        load = run_rate("/open311/v2/requests.json", bodies, rate, len(bodies) / rate, 64)
        rows = dict(
            ServiceRequest.objects.filter(description__startswith="storm report ")
            .values_list("description", "parent_id")
            .iterator()
        )
        ids = dict(
            ServiceRequest.objects.filter(description__startswith="storm report ").values_list("description", "id")
        )
        stored = [i for i in range(len(bodies)) if f"storm report {i}" in rows]
        by_id = {ids[f"storm report {i}"]: i for i in stored}

        def root(i: int) -> int:
            parent = rows[f"storm report {i}"]
            return by_id.get(parent, i) if parent else i

        ours = {i: root(i) for i in stored}
        true_groups = {i: truth[i] for i in stored}
        peer = fms_unique([(i, *where[i]) for i in stored])
        p_ours, r_ours = pair_scores(true_groups, ours)
        p_peer, r_peer = pair_scores(true_groups, peer)
        res = Result("storm")
        res.add("intake p50 during the storm", "ms", load["p50"], 100.0, "floor (p95)", better="lower")
        res.add("intake p95 during the storm", "ms", load["p95"], 100.0, "floor", better="lower")
        res.add(
            "issues detected (true unique: details)",
            "issues",
            len(set(ours.values())),
            len(set(peer.values())),
            "FixMyStreet rule",
        )
        res.add("same-issue links: precision", "share", p_ours, p_peer, "FixMyStreet rule")
        res.add("same-issue links: recall", "share", r_ours, r_peer, "FixMyStreet rule")
        res.notes.append(
            f"type {code} in wards {wards}: {len(bodies)} reports of {len(set(truth))} true issues over "
            f"{len(bodies) / rate / 60:.1f} min at {rate:.2f}/s "
            f"({rate * 3600 / max(usual_per_hour, 1e-9):.0f} x the type's usual {usual_per_hour:.1f} an hour "
            f"citywide); stored {len(stored)}, refused {load['errors']}"
        )
        res.notes.append(
            f"raw {len(stored)} -> unique {len(set(ours.values()))} (truth {len(set(true_groups.values()))})"
        )
        res.details = {"load": load, "counts": dict(Counter(truth).most_common(3))}
        res.print(args.json)
        return 0
    finally:
        stop(server)
        connections.close_all()
        drop_database_of(url)


if __name__ == "__main__":
    sys.exit(main())
