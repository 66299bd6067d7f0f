"""A planner's analysis over stored requests: filters checked, rows read, the statistics of `stats` run, one
JSON-able result returned (stored on a `HotSpotRun` so the page and every export show the same figures).

Sensitive types never enter an analysis (their places can identify a person). Counts are of *issues* by
default (a request that is not a duplicate of another), so one pothole reported by five neighbours counts
once; `count=reports` counts every report.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import F, FloatField, Func
from django.utils import timezone

from gis_app.models import RequestEvent, ServiceRequest, ServiceType, day_start
from gis_app.planner import stats
from gis_app.planner.method import METHOD
from gis_app.planner.places import area_spots, layer_in_force, study_cells
from gis_app.planner.stats import PlannerInputError
from layers.models import LayerKind

Progress = Callable[[str, float], None]
COUNT_MODES = ("issues", "reports")
BASELINES = ("city", "usual")
DEFAULT_RES = {"city": 9, "usual": 11}  # the usual baseline looks for street-scale spots: ~25 m cells
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
    baseline: str = "city"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def until(self) -> dt.datetime:
        """The period's end: midnight after its last day, city time."""
        return day_start(self.end + dt.timedelta(days=1))

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
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
        unknown = ServiceType.objects.public().unknown_codes(wanted)
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
    baseline = str(data.get("baseline") or "auto").strip().lower()
    if baseline == "auto":
        baseline = "usual" if wanted else "city"  # with every type there are no 'other requests' to compare with
    if baseline not in BASELINES:
        raise PlannerInputError(f"baseline must be auto, {' or '.join(BASELINES)}; got {baseline[:40]!r}")
    if baseline == "usual" and not wanted:
        raise PlannerInputError("the 'usual' baseline compares chosen types with the other requests: choose a type")
    return Filters(
        start=start,
        end=end,
        types=wanted,
        ward=_int(data, "ward", None, 1, 10**6, "a ward number"),
        min_count=int(_int(data, "min_count", 3, 2, 1000, "requests at one place") or 3),
        radius_m=_float(data, "radius_m", settings.PLANNER_REPEAT_RADIUS_M, 5, 500, "metres"),
        res=int(
            _int(data, "res", DEFAULT_RES[baseline], 7, 11, "H3 grid resolution: 7 is 5 km² a cell, 11 is 0.002 km²")
            or DEFAULT_RES[baseline]
        ),
        k=None if scale == "auto" else _int({"k": scale}, "k", None, 1, 5, "rings, or 'auto'"),
        alpha=_float(data, "alpha", 0.05, 0.001, 0.2, "false discovery rate"),
        recent_weeks=int(recent or 1),
        count=count,
        baseline=baseline,
    )


def selected(f: Filters, every_type: bool = False) -> Any:
    """The requests an analysis reads: placed, non-sensitive, in the period (city time), the types and ward
    (`every_type`: all non-sensitive types, the 'usual' baseline's reference)."""
    qs = ServiceRequest.objects.filed_on_days(f.start, f.end).filter(
        location__isnull=False, service_type__sensitive=False
    )
    if f.types and not every_type:
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

    def subset(self, keep: np.ndarray) -> Rows:
        return Rows(**{name: getattr(self, name)[keep] for name in self.__dataclass_fields__})


def read_rows(f: Filters, every_type: bool = False) -> Rows:
    """One query, oldest first; coordinates come out as numbers (no geometry objects at a million rows)."""
    qs = (
        selected(f, every_type)
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


def _cells(r: Rows, every: Rows, f: Filters, layer: tuple[int, str, str] | None, progress: Progress) -> dict[str, Any]:
    """Gi* on the hexagonal grid, then the emerging-trend labels on the same grid.

    Baseline 'city': every cell of the study area, empty ones included, each equally likely. Baseline 'usual':
    the cells where any request of any type was filed in the period (streets, not parks and the lake), each
    expected to hold the ward's rate of the chosen types spread like the ward's other requests."""
    usual = f.baseline == "usual"
    chosen = np.isin(every.type_ids, np.unique(r.type_ids)) if usual else np.ones(len(every.ids), dtype=bool)
    all_cells = stats.cells_of(every.lon, every.lat, f.res)
    study = set(np.unique(all_cells).tolist()) if usual else study_cells(f.ward, f.res, layer)

    def expected(grid: stats.Grid, keep: np.ndarray) -> np.ndarray:
        """The usual baseline's expected counts per cell, from the requests `keep` selects."""
        where = grid.locate(all_cells[keep])
        return stats.expected_counts(chosen[keep], every.ward[keep], where, len(grid.cells))

    everything = np.ones(len(all_cells), dtype=bool)
    progress("choosing the scale" if f.k is None else "Gi* on the grid", 0.45)
    hs = stats.hot_spots(
        all_cells[chosen], study, k=f.k, alpha=f.alpha, expected=(lambda g: expected(g, everything)) if usual else None
    )
    grid, gi = hs["grid"], hs["gi"]
    progress("emerging trends", 0.7)
    weeks = f.days // 7
    split = (f.until - dt.timedelta(weeks=f.recent_weeks)).timestamp()
    period_start = split - dt.timedelta(weeks=weeks - f.recent_weeks).total_seconds()
    now, before = every.at >= split, (every.at < split) & (every.at >= period_start)
    recent = np.bincount(grid.locate(all_cells[chosen & now]), minlength=len(grid.cells))
    earlier = np.bincount(grid.locate(all_cells[chosen & before]), minlength=len(grid.cells))
    trend = stats.emerging(
        recent,
        earlier,
        f.recent_weeks,
        weeks - f.recent_weeks,
        hs["w"],
        f.alpha,
        (expected(grid, now), expected(grid, before)) if usual else (None, None),
    )
    exp = hs["expected"]
    sig = lambda v: [float(f"{x:.4g}") for x in v.tolist()]  # noqa: E731 - four significant figures
    cells = {  # column-wise: a street-scale grid has tens of thousands of cells
        "cell": [stats.cell_name(c) for c in grid.cells.tolist()],
        "count": grid.counts.astype(int).tolist(),
        "expected": None if exp is None else np.round(exp, 3).tolist(),
        "z": np.round(gi.z, 4).tolist(),
        "p": sig(gi.p),
        "q": sig(gi.q),
        "bin": gi.bin.astype(int).tolist(),
        "significant": (gi.q <= f.alpha).tolist(),
        "recent": np.asarray(recent, dtype=int).tolist(),
        "earlier": np.asarray(earlier, dtype=int).tolist(),
        "trend": trend.direction.astype(int).tolist(),
        "trend_q": sig(trend.q),
        "label": [str(x) for x in trend.label.tolist()],
    }
    return {
        "cells": cells,
        "scale": {
            "k": hs["k"],
            "chosen_by": "planner" if f.k is not None else "incremental spatial autocorrelation",
            "curve": hs["scale_curve"],
            "cell_km2": round(float(stats.h3.average_hexagon_area(f.res, "km^2")), 4),
            "baseline": f.baseline,
        },
        "weeks": {"recent": f.recent_weeks, "earlier": weeks - f.recent_weeks},
    }


def _weekly(r: Rows, f: Filters, type_names: dict[int, tuple[str, str]]) -> dict[str, Any]:
    """Requests per week (weeks end on the period's last day) per type, the busiest ten types."""
    end = f.until
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
    every = read_rows(f, every_type=f.baseline == "usual")
    if f.baseline == "usual":
        chosen = ServiceType.objects.filter(code__in=f.types).values_list("pk", flat=True)
        r = every.subset(np.isin(every.type_ids, list(chosen)))
    else:
        r = every
    type_names = {t.pk: (t.code, t.name) for t in ServiceType.objects.filter(pk__in=np.unique(r.type_ids).tolist())}
    say("repeat locations", 0.2)
    repeats = _repeats(r, f, type_names)
    wards_layer = layer_in_force(LayerKind.WARDS, f.end)
    grid = _cells(r, every, f, wards_layer, say)
    say("wards and community areas", 0.85)
    areas = {
        "ward": area_spots(LayerKind.WARDS, r.ward, f.ward, f.end, f.alpha),
        "community_area": area_spots(LayerKind.COMMUNITY_AREAS, r.area, f.ward, f.end, f.alpha),
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
