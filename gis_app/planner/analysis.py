"""A planner's analysis over stored requests: filters checked, rows read, the statistics of `stats` run, one
JSON-able result returned (stored on a `HotSpotRun` so the page and every export show the same figures).

Sensitive types never enter an analysis (their places can identify a person). Counts are of *issues* by
default (a request that is not a duplicate of another), so one pothole reported by five neighbours counts
once; `count=reports` counts every report.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import F, FloatField, Func
from django.utils import timezone
from shapely.geometry import shape

from gis_app.models import RequestEvent, ServiceRequest, ServiceType
from gis_app.planner import stats
from gis_app.planner.stats import PlannerInputError
from layers.lookup import LayerNotLoaded, version_in_force
from layers.models import CommunityArea, LayerKind, Ward

Progress = Callable[[str, float], None]
COUNT_MODES = ("issues", "reports")
MEMBERS_LISTED = 50  # requests listed per repeat location (the count is always the full one)


@dataclass(frozen=True)
class Filters:
    """What a planner asked, checked. Defaults: every non-sensitive type, the last 90 days, the whole city."""

    start: dt.date
    end: dt.date
    types: tuple[str, ...] = ()
    ward: int | None = None
    min_count: int = 3
    radius_m: float = 30.0
    res: int = 9
    k: int | None = None
    alpha: float = 0.05
    recent_weeks: int = 4
    count: str = "issues"
    notes: list[str] = field(default_factory=list, compare=False)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("notes")
        d.update(start=self.start.isoformat(), end=self.end.isoformat(), types=list(self.types))
        return d


def _int(data: Mapping[str, Any], name: str, default: int | None, lo: int, hi: int, what: str) -> int | None:
    raw = data.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise PlannerInputError(f"{name} must be a whole number ({what}); got {str(raw)[:40]!r}") from None
    if not lo <= value <= hi:
        raise PlannerInputError(f"{name} must be {lo} to {hi} ({what}); got {value}")
    return value


def _float(data: Mapping[str, Any], name: str, default: float, lo: float, hi: float, what: str) -> float:
    raw = data.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(str(raw))
    except ValueError:
        raise PlannerInputError(f"{name} must be a number ({what}); got {str(raw)[:40]!r}") from None
    if not (math.isfinite(value) and lo <= value <= hi):
        raise PlannerInputError(f"{name} must be between {lo} and {hi} ({what}); got {value}")
    return value


def _date(data: Mapping[str, Any], name: str, default: dt.date) -> dt.date:
    raw = data.get(name)
    if raw in (None, ""):
        return default
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise PlannerInputError(f"{name} must be a date as YYYY-MM-DD; got {str(raw)[:40]!r}") from None


def parse_filters(data: Mapping[str, Any]) -> Filters:
    """Filters from a query string or JSON body; every problem raises PlannerInputError saying what was expected."""
    today = timezone.localdate()
    end = _date(data, "end", today)
    days = _int(data, "days", 90, 7, settings.PLANNER_MAX_DAYS, "days of history, counted back from `end`")
    start = _date(data, "start", end - dt.timedelta(days=int(days or 90) - 1))
    if start > end:
        raise PlannerInputError(f"start ({start}) must not be after end ({end})")
    if (end - start).days + 1 > settings.PLANNER_MAX_DAYS:
        raise PlannerInputError(f"the period may span at most {settings.PLANNER_MAX_DAYS} days")
    raw_types = data.get("types") or data.get("type") or ""
    codes = raw_types if isinstance(raw_types, list) else str(raw_types).split(",")
    wanted = tuple(sorted({str(c).strip() for c in codes if str(c).strip()}))[:200]
    if wanted:
        known = set(ServiceType.objects.filter(code__in=wanted, sensitive=False).values_list("code", flat=True))
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise PlannerInputError(
                f"unknown service type code(s): {', '.join(c[:60] for c in unknown[:5])}; see /api/services/"
            )
    weeks = max(1, ((end - start).days + 1) // 7)
    recent = _int(data, "recent_weeks", min(4, max(1, weeks - 1)), 1, 52, "weeks the trend compares")
    if weeks < 2 or (recent or 0) >= weeks:
        raise PlannerInputError(
            f"recent_weeks ({recent}) must be fewer than the {weeks} whole weeks in the period: the trend compares "
            "the last weeks with the weeks before them"
        )
    scale = str(data.get("k") or "auto").strip().lower()
    count = str(data.get("count") or "issues").strip().lower()
    if count not in COUNT_MODES:
        raise PlannerInputError(f"count must be one of {', '.join(COUNT_MODES)}; got {count[:40]!r}")
    return Filters(
        start=start,
        end=end,
        types=wanted,
        ward=_int(data, "ward", None, 1, 10**6, "a ward number"),
        min_count=int(_int(data, "min_count", 3, 2, 1000, "requests at one place") or 3),
        radius_m=_float(data, "radius_m", settings.PLANNER_REPEAT_RADIUS_M, 5, 500, "metres"),
        res=int(_int(data, "res", 9, 7, 10, "H3 grid resolution: 7 is 5 km² a cell, 10 is 0.015 km²") or 9),
        k=None if scale == "auto" else _int({"k": scale}, "k", None, 1, 5, "rings, or 'auto'"),
        alpha=_float(data, "alpha", 0.05, 0.001, 0.2, "false discovery rate"),
        recent_weeks=int(recent or 1),
        count=count,
    )


def selected(f: Filters) -> Any:
    """The requests an analysis reads: placed, non-sensitive, in the period (city time), the types and ward."""
    tz = timezone.get_current_timezone()
    since = dt.datetime.combine(f.start, dt.time(), tzinfo=tz)
    until = dt.datetime.combine(f.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    qs = ServiceRequest.objects.filter(
        requested_at__gte=since, requested_at__lt=until, location__isnull=False, service_type__sensitive=False
    )
    if f.types:
        qs = qs.filter(service_type__code__in=f.types)
    if f.ward is not None:
        qs = qs.filter(ward_number=f.ward)
    if f.count == "issues":
        qs = qs.filter(parent__isnull=True)
    return qs


@dataclass
class Rows:
    ids: np.ndarray
    tickets: np.ndarray
    type_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    at: np.ndarray  # epoch seconds
    closed: np.ndarray  # epoch seconds, nan while open
    status: np.ndarray
    address: np.ndarray
    ward: np.ndarray  # -1 where unknown
    area: np.ndarray


def read_rows(f: Filters) -> Rows:
    """One query, oldest first; coordinates come out as numbers (no geometry objects at a million rows)."""
    qs = (
        selected(f)
        .annotate(
            _lon=Func(F("location"), function="ST_X", output_field=FloatField()),
            _lat=Func(F("location"), function="ST_Y", output_field=FloatField()),
        )
        .order_by("requested_at", "pk")
        .values_list(
            "pk",
            "ticket",
            "service_type_id",
            "_lon",
            "_lat",
            "requested_at",
            "closed_at",
            "status",
            "address",
            "ward_number",
            "community_area_number",
        )
    )
    rows = list(qs.iterator(chunk_size=20_000))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 11
    return Rows(
        ids=np.array(cols[0], dtype=np.int64),
        tickets=np.array(cols[1], dtype=object),
        type_ids=np.array(cols[2], dtype=np.int64),
        lon=np.array(cols[3], dtype=float),
        lat=np.array(cols[4], dtype=float),
        at=np.array([t.timestamp() for t in cols[5]], dtype=float),
        closed=np.array([t.timestamp() if t else np.nan for t in cols[6]], dtype=float),
        status=np.array(cols[7], dtype=object),
        address=np.array(cols[8], dtype=object),
        ward=np.array([-1 if w is None else w for w in cols[9]], dtype=np.int64),
        area=np.array([-1 if a is None else a for a in cols[10]], dtype=np.int64),
    )


# ---- the city's own layers, read once per layer version ---------------------------------------------------


MAX_CELLS = 400_000  # a study grid larger than this would take minutes and gigabytes: a coarser grid is asked for


@lru_cache(maxsize=16)
def _study_geojson(version_id: int, table: str, number: int | None) -> str:
    """The study area's outline (one ward, or the union of the layer): cached per layer version, which never
    changes once loaded (a new map is a new version)."""
    where = "layer_version_id = %s" + (" AND number = %s" if number is not None else "")
    args = [version_id] + ([number] if number is not None else [])
    with connection.cursor() as cur:
        cur.execute(f"SELECT ST_AsGeoJSON(ST_Union(geom)) FROM {table} WHERE {where}", args)
        row = cur.fetchone()
    return row[0] if row and row[0] else '{"type": "MultiPolygon", "coordinates": []}'


@lru_cache(maxsize=16)
def _areas(version_id: int, table: str) -> tuple[tuple[int, float], tuple[tuple[int, int], ...]]:
    """Each area's number and km², and the pairs that touch (contiguity, within about 10 m so the hairline gaps
    of a digitised map do not cut neighbours apart)."""
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT number, ST_Area(geom::geography) / 1e6 FROM {table} WHERE layer_version_id = %s ORDER BY number",
            [version_id],
        )
        sizes = tuple((int(n), float(a)) for n, a in cur.fetchall())
        cur.execute(
            f"""SELECT a.number, b.number FROM {table} a JOIN {table} b
                ON a.layer_version_id = b.layer_version_id AND a.number < b.number
                AND ST_DWithin(a.geom, b.geom, 0.0001) WHERE a.layer_version_id = %s""",
            [version_id],
        )
        pairs = tuple((int(a), int(b)) for a, b in cur.fetchall())
    return sizes, pairs  # type: ignore[return-value]


def _layer(kind: str, on: dt.date) -> tuple[int, str, str] | None:
    try:
        v = version_in_force(kind, on)
    except LayerNotLoaded:  # a city without this layer simply gets no analysis by it
        return None
    table = (Ward if kind == LayerKind.WARDS else CommunityArea)._meta.db_table
    return v.pk, table, v.name


# ---- the analysis ----------------------------------------------------------------------------------------


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=timezone.get_current_timezone()).date().isoformat()


def _repeats(r: Rows, f: Filters, type_names: dict[int, tuple[str, str]]) -> list[dict[str, Any]]:
    """Repeat locations per type (a place counts only requests of one type), largest first."""
    x, y = stats.to_metres(r.lon, r.lat)
    found: list[tuple[int, list[int], int]] = []
    for type_id in np.unique(r.type_ids).tolist():
        idx = np.flatnonzero(r.type_ids == type_id)  # oldest first, as read
        for rep in stats.repeat_locations(x[idx], y[idx], f.radius_m, f.min_count):
            found.append((int(type_id), idx[rep.members].tolist(), int(idx[rep.centre])))
    member_ids = [int(r.ids[i]) for _, members, _ in found for i in members]
    reopened = set(
        RequestEvent.objects.filter(request_id__in=member_ids, verb="reopen").values_list("request_id", flat=True)
    ) | set(ServiceRequest.objects.filter(follow_up_of_id__in=member_ids).values_list("follow_up_of_id", flat=True))
    out: list[dict[str, Any]] = []
    for type_id, members, centre in found:
        members = sorted(members, key=lambda i: (r.at[i], r.ids[i]))
        # Came back: filed when every earlier request at the place had been closed (fixed, then reported again).
        closed_by = np.maximum.accumulate(np.nan_to_num(r.closed[members], nan=np.inf))
        came_back = int(np.sum(closed_by[:-1] <= r.at[members][1:]))
        code, name = type_names[type_id]
        out.append(
            {
                "type": code,
                "type_name": name,
                "lon": round(float(r.lon[centre]), 6),
                "lat": round(float(r.lat[centre]), 6),
                "address": str(r.address[centre] or ""),
                "ward": int(r.ward[centre]) if r.ward[centre] >= 0 else None,
                "count": len(members),
                "first": _iso(r.at[members[0]]),
                "last": _iso(r.at[members[-1]]),
                "open": int(sum(1 for i in members if math.isnan(r.closed[i]))),
                "came_back": came_back,
                "reopened": int(sum(1 for i in members if int(r.ids[i]) in reopened)),
                "requests": [
                    {"ticket": str(r.tickets[i]), "date": _iso(r.at[i]), "status": str(r.status[i])}
                    for i in members[:MEMBERS_LISTED]
                ],
            }
        )
    out.sort(key=lambda d: (-int(d["count"]), str(d["type"]), str(d["first"])))
    return out


def _cells(r: Rows, f: Filters, layer: tuple[int, str, str] | None, progress: Progress) -> dict[str, Any]:
    """Gi* on the hexagonal grid over the study area, then the emerging-trend labels on the same grid."""
    study: set[str] = set()
    if layer is not None:
        outline = shape(json.loads(_study_geojson(layer[0], layer[1], f.ward)))
        lat = outline.centroid.y if not outline.is_empty else 0.0
        km2 = outline.area * (stats.M_PER_DEG / 1000) ** 2 * math.cos(math.radians(lat))
        if km2 / stats.h3.average_hexagon_area(f.res, "km^2") > MAX_CELLS:
            raise PlannerInputError(
                f"the study area ({km2:,.0f} km²) holds more than {MAX_CELLS:,} cells at grid {f.res}: "
                "choose a coarser grid (a smaller number) or one ward"
            )
        study = stats.area_cells(outline, f.res)
    point_cells = stats.cells_of(r.lon, r.lat, f.res)
    progress("choosing the scale" if f.k is None else "Gi* on the grid", 0.45)
    hs = stats.hot_spots(point_cells, study, k=f.k, alpha=f.alpha, progress=progress)
    grid, gi = hs["grid"], hs["gi"]
    progress("emerging trends", 0.7)
    weeks = f.days // 7
    split = (
        dt.datetime.combine(f.end + dt.timedelta(days=1), dt.time(), tzinfo=timezone.get_current_timezone())
        - dt.timedelta(weeks=f.recent_weeks)
    ).timestamp()
    period_start = split - dt.timedelta(weeks=weeks - f.recent_weeks).total_seconds()
    recent = stats.grid_counts(point_cells[r.at >= split], set(grid.cells)).counts
    earlier = stats.grid_counts(point_cells[(r.at < split) & (r.at >= period_start)], set(grid.cells)).counts
    trend = stats.emerging(recent, earlier, f.recent_weeks, weeks - f.recent_weeks, hs["w"], f.alpha)
    cells = [
        {
            "cell": c,
            "count": int(grid.counts[i]),
            "z": round(float(gi.z[i]), 4),
            "p": float(f"{gi.p[i]:.4g}"),
            "q": float(f"{gi.q[i]:.4g}"),
            "bin": int(gi.bin[i]),
            "significant": bool(gi.q[i] <= f.alpha),
            "recent": int(recent[i]),
            "earlier": int(earlier[i]),
            "trend": int(trend.direction[i]),
            "trend_q": float(f"{trend.q[i]:.4g}"),
            "label": str(trend.label[i]),
        }
        for i, c in enumerate(grid.cells)
    ]
    return {
        "cells": cells,
        "scale": {
            "k": hs["k"],
            "chosen_by": "planner" if f.k is not None else "incremental spatial autocorrelation",
            "curve": hs["scale_curve"],
            "cell_km2": round(float(np.mean([stats.h3.cell_area(c, "km^2") for c in grid.cells[:50]])), 4)
            if grid.cells
            else None,
        },
        "weeks": {"recent": f.recent_weeks, "earlier": weeks - f.recent_weeks},
    }


def _area_spots(r: Rows, kind: str, numbers: np.ndarray, f: Filters) -> dict[str, Any] | None:
    """Gi* over a layer's areas (wards, community areas): counts with each area's km² as exposure, contiguity
    neighbours. Only for the whole city (one ward alone has no neighbours to compare with)."""
    layer = _layer(kind, f.end)
    if layer is None or f.ward is not None:
        return None
    sizes, pairs = _areas(layer[0], layer[1])
    if len(sizes) < 3:
        return None
    ids = [n for n, _ in sizes]
    pos = {n: i for i, n in enumerate(ids)}
    counts = np.zeros(len(ids))
    for n, c in zip(*np.unique(numbers[numbers >= 0], return_counts=True), strict=True):
        if int(n) in pos:
            counts[pos[int(n)]] = c
    nb: dict[int, list[int]] = defaultdict(list)
    for a, b in pairs:
        nb[a].append(b)
        nb[b].append(a)
    km2 = np.array([a for _, a in sizes])
    gi = stats.gi_star(counts, stats.weights(nb, ids), f.alpha, exposure=km2)
    return {
        "layer": layer[2],
        "neighbourhood": "areas that share a boundary (within 10 m), plus the area itself",
        "areas": [
            {
                "number": n,
                "count": int(counts[i]),
                "per_km2": round(float(counts[i] / km2[i]), 3) if km2[i] else None,
                "z": round(float(gi.z[i]), 4),
                "p": float(f"{gi.p[i]:.4g}"),
                "q": float(f"{gi.q[i]:.4g}"),
                "bin": int(gi.bin[i]),
            }
            for i, n in enumerate(ids)
        ],
    }


def _weekly(r: Rows, f: Filters, type_names: dict[int, tuple[str, str]]) -> dict[str, Any]:
    """Requests per week (weeks end on the period's last day) per type, the busiest ten types."""
    end = dt.datetime.combine(f.end + dt.timedelta(days=1), dt.time(), tzinfo=timezone.get_current_timezone())
    weeks = max(1, math.ceil(f.days / 7))
    week_of = np.floor((end.timestamp() - r.at) / (7 * 86400)).astype(int)
    labels = [(end - dt.timedelta(weeks=w + 1)).date().isoformat() for w in reversed(range(weeks))]
    series = []
    types, totals = np.unique(r.type_ids, return_counts=True)
    for t in types[np.argsort(-totals)][:10].tolist():
        counts = np.bincount(week_of[(r.type_ids == t) & (week_of < weeks)], minlength=weeks)[::-1]
        series.append({"type": type_names[t][0], "type_name": type_names[t][1], "counts": counts.tolist()})
    return {"week_starts": labels, "series": series}


def analyse(f: Filters, progress: Progress | None = None) -> dict[str, Any]:
    """Everything the planner page shows for one set of filters, as one JSON-able dict."""
    say: Progress = progress or (lambda stage, share: None)
    say("reading requests", 0.05)
    r = read_rows(f)
    type_names = {t.pk: (t.code, t.name) for t in ServiceType.objects.filter(pk__in=np.unique(r.type_ids).tolist())}
    say("repeat locations", 0.2)
    repeats = _repeats(r, f, type_names)
    wards_layer = _layer(LayerKind.WARDS, f.end)
    grid = _cells(r, f, wards_layer, say)
    say("wards and community areas", 0.85)
    areas = {
        "ward": _area_spots(r, LayerKind.WARDS, r.ward, f),
        "community_area": _area_spots(r, LayerKind.COMMUNITY_AREAS, r.area, f),
    }
    say("weekly counts", 0.95)
    return {
        "filters": f.as_json(),
        "requests": len(r.ids),
        "repeats": repeats,
        **grid,
        "areas": areas,
        "weekly": _weekly(r, f, type_names),
        "method": METHOD,
    }


METHOD = {
    "repeat_locations": "A place with at least N requests of one type within the radius of one request's location "
    "in the period; places are taken greediest first and never share a request. 'Came back' counts requests filed "
    "after every earlier one there had been closed; 'reopened' counts requests reopened or followed up.",
    "hot_spots": "Getis-Ord Gi* (esda) on issue counts per H3 hexagon over the whole study area, empty cells "
    "included; neighbourhood: the cells within k rings plus the cell itself, binary weights. Two-sided p-values, "
    "the larger of esda's normal one and the exact one for counts (a window's count is binomial under complete "
    "spatial randomness with the total fixed), so sparse cells are not over-read, with Benjamini-Hochberg "
    "false-discovery control across all cells at the chosen alpha; "
    "confidence 99/95/90 % where the FDR-adjusted q is at most 0.01/0.05/0.10.",
    "emerging": "The last K weeks of each cell against its own earlier weeks: exact binomial test of equal weekly "
    "rates, Benjamini-Hochberg across cells with any request. New: hot (Gi*) in the recent weeks and not before; "
    "intensifying: hot in both and rising; persistent: hot in both with no significant change; diminishing: hot "
    "before and falling.",
}
