"""A synthetic 311 history that follows the real sample, with a known ground truth.

What it learns from the loaded history (dispatchable types only): the type mix; the ward mix per type
(overall mix where a type is rare); the hour-of-day pattern; time to close per type; the duplicate rate
per type (overall where a type has few rows); and the distance and time gaps between the City's
labelled duplicates and their parents. What it takes from the assumptions fixture (stated there): the
weekday pattern (1.7 days of sample cannot show one), the hard-negative rate and the planted hot spots.

Every request lands on a real street: a random point along a segment of the active citywide street
network whose midpoint lies in the chosen ward. Ground truth goes in `source_data`: `true_parent`
(a planted duplicate), `hard_negative_of` (a distinct issue planted close to another) and `hot_spot`.
Rows go in with PostgreSQL COPY, ids taken from the sequence first so duplicates can point at parents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from gis_app.choices import Channel, LocatedBy, NotifyVia, Status
from gis_app.models import ImportBatch, RequestEvent, ServiceRequest, ServiceType
from gis_app.placement import place_requests
from layers.coords import local_metres, local_plane, offset_degrees, point_from_lonlat
from layers.importing import refresh_statistics
from layers.lookup import numbers_at
from layers.models import LayerKind, LayerVersion, StreetEdge


class GeneratorError(ValueError):
    pass


@dataclass
class Profile:
    type_ids: np.ndarray
    type_p: np.ndarray
    wards_by_type: dict[int, tuple[np.ndarray, np.ndarray]]
    hour_p: np.ndarray
    close_hours: dict[int, np.ndarray]
    dup_rate: dict[int, float]
    dup_gaps: np.ndarray  # (metres, seconds) of labelled pairs
    # How the history's rows were placed (most of them): the gaps above are that placing's, so the rows drawn with
    # them claim the same precision (gis_app.dedup.pin_slack_m), not a pin's.
    placed_by: str = LocatedBy.PIN


def learn_profile(history: ImportBatch, min_rows_for_type_rate: int = 30) -> Profile:
    rows = list(
        ServiceRequest.objects.filter(
            import_batch=history, source_data__dispatchable=True, location__isnull=False
        ).values_list(
            "id",
            "service_type_id",
            "ward_number",
            "requested_at",
            "closed_at",
            "status",
            "parent_id",
            "location",
            "source_data",
            "located_by",
        )
    )
    if len(rows) < 10:
        raise GeneratorError(f"history batch {history.pk} has too few dispatchable rows to learn from")
    types = Counter(r[1] for r in rows)
    type_ids = np.array(sorted(types))
    type_p = np.array([types[t] for t in type_ids], dtype=float)
    type_p /= type_p.sum()
    overall_wards = Counter(r[2] for r in rows if r[2])
    wards_by_type: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for t in type_ids:
        c = Counter(r[2] for r in rows if r[1] == t and r[2])
        if sum(c.values()) < 20:
            c = overall_wards
        w = np.array(sorted(c))
        p = np.array([c[x] for x in w], dtype=float)
        wards_by_type[int(t)] = (w, p / p.sum())
    hours = Counter(timezone.localtime(r[3]).hour for r in rows)
    hour_p = np.array([hours.get(h, 0) + 1 for h in range(24)], dtype=float)
    hour_p /= hour_p.sum()
    all_close = np.array([(r[4] - r[3]).total_seconds() / 3600 for r in rows if r[4] and r[4] >= r[3]])
    close_hours = {}
    for t in type_ids:
        vals = np.array([(r[4] - r[3]).total_seconds() / 3600 for r in rows if r[1] == t and r[4] and r[4] >= r[3]])
        close_hours[int(t)] = vals if len(vals) >= 5 else all_close
    overall_dup = sum(1 for r in rows if r[8].get("duplicate")) / len(rows)
    dup_rate = {}
    for t in type_ids:
        n = types[t]
        d = sum(1 for r in rows if r[1] == t and r[8].get("duplicate"))
        dup_rate[int(t)] = d / n if n >= min_rows_for_type_rate else overall_dup
    by_id = {r[0]: r for r in rows}
    gaps = []
    for r in rows:
        if r[6] and r[6] in by_id:
            parent = by_id[r[6]]
            loc, parent_loc = r[7], parent[7]
            if loc is None or parent_loc is None:
                continue
            metres = local_metres(loc.x, loc.y, parent_loc.x, parent_loc.y)
            gaps.append((metres, abs((r[3] - parent[3]).total_seconds())))
    dup_gaps = np.array(gaps) if gaps else np.array([[0.0, 3600.0]])
    return Profile(
        placed_by=Counter(r[9] for r in rows).most_common(1)[0][0],
        type_ids=type_ids,
        type_p=type_p,
        wards_by_type=wards_by_type,
        hour_p=hour_p,
        close_hours=close_hours,
        dup_rate=dup_rate,
        dup_gaps=dup_gaps,
    )


# A ward is covered by the street network when this share of its history's points lie within COVERED_M of a
# segment's middle: its requests are drawn on its streets. Elsewhere (a network that covers part of the city,
# as San Francisco's Mission extract) they are drawn at the history's own places in the ward, moved a little,
# so the synthetic city spans the real one instead of piling into the one neighbourhood the network covers.
COVERED_SHARE = 0.9
COVERED_M = 200.0
JITTER_M = 25.0


@dataclass
class StreetSampler:
    """Street segments by ward: a point is a random spot along a random segment of the ward; in a ward the
    network does not cover, a random place of the ward's history, moved up to JITTER_M."""

    segments: dict[int, np.ndarray]  # ward -> array of (x1, y1, x2, y2)
    places: dict[int, np.ndarray] = field(default_factory=dict)  # uncovered ward -> its history's (x, y)

    @classmethod
    def from_active_network(cls, on: dt.date) -> StreetSampler:
        versions = LayerVersion.objects.of_kind(LayerKind.STREETS).active()
        chosen = sorted(versions, key=lambda v: not (v.report or {}).get("approximate"))  # citywide first
        if not chosen:
            raise GeneratorError("no street network is loaded: run `manage.py load_streets`")
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), ST_X(ST_EndPoint(geom)), "
                f"ST_Y(ST_EndPoint(geom)) FROM {StreetEdge._meta.db_table} WHERE layer_version_id = %s",
                [chosen[0].pk],
            )
            seg = np.array(cur.fetchall(), dtype=float)
        mids = [point_from_lonlat((a + c) / 2, (b + d) / 2) for a, b, c, d in seg]
        wards = numbers_at(LayerKind.WARDS, mids, on)
        by_ward: dict[int, list[int]] = {}
        for i, w in enumerate(wards):
            if w is not None:
                by_ward.setdefault(int(w), []).append(i)
        return cls({w: seg[idx] for w, idx in by_ward.items()}, _uncovered_places(seg))

    def sample(self, rng: np.random.Generator, ward: int) -> tuple[float, float]:
        places = self.places.get(ward)
        if places is not None:
            x, y = places[rng.integers(len(places))]
            dx, dy = _offset(rng, float(rng.uniform(0, JITTER_M)), float(y))
            return float(x) + dx, float(y) + dy
        seg = self.segments.get(ward)
        if seg is None or not len(seg):
            ward = rng.choice(list(self.segments))
            seg = self.segments[ward]
        a, b, c, d = seg[rng.integers(len(seg))]
        f = rng.random()
        return a + f * (c - a), b + f * (d - b)


def _uncovered_places(seg: np.ndarray) -> dict[int, np.ndarray]:
    """The history's located points of each ward the network does not cover (see COVERED_SHARE)."""
    from scipy.spatial import cKDTree  # here: only a partly covered city pays for the import

    rows = np.array(
        ServiceRequest.objects.filter(
            import_batch__kind="history", location__isnull=False, ward_number__isnull=False
        ).values_list("ward_number", "location"),
        dtype=object,
    )
    if not len(rows) or not len(seg):
        return {}
    xy = np.array([(p.x, p.y) for p in rows[:, 1]], dtype=float)
    lat0 = float(np.median(xy[:, 1]))
    mids = local_plane(np.column_stack(((seg[:, 0] + seg[:, 2]) / 2, (seg[:, 1] + seg[:, 3]) / 2)), lat0)
    near = cKDTree(mids).query(local_plane(xy, lat0), distance_upper_bound=COVERED_M)[0] <= COVERED_M
    wards = rows[:, 0].astype(int)
    out: dict[int, np.ndarray] = {}
    for w in np.unique(wards):
        mine = wards == w
        if near[mine].mean() < COVERED_SHARE:
            out[int(w)] = xy[mine]
    return out


@dataclass
class GenerationReport:
    batch_id: int | None
    unchanged: bool = False
    rows: int = 0
    duplicates: int = 0
    hard_negatives: int = 0
    hot_spot_rows: int = 0
    not_yet: int = 0  # drawn after the moment of generation (a late duplicate of yesterday's request): left out
    seconds: float = 0.0
    counts_by_type: dict[int, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        if self.unchanged:
            return [f"unchanged: batch {self.batch_id} already holds this generation"]
        rate = self.rows / self.seconds if self.seconds else 0
        return [
            f"generated {self.rows} requests ({self.duplicates} planted duplicates, {self.hard_negatives} hard "
            f"negatives, {self.hot_spot_rows} hot-spot requests) in {self.seconds:.1f} s ({rate:,.0f} rows/s)"
            + (f"; {self.not_yet} drawn after now left out" if self.not_yet else "")
        ]


@dataclass
class _Draw:
    """The rows drawn so far; the random stream is shared so a seed gives the same history."""

    rng: np.random.Generator
    profile: Profile
    now: dt.datetime
    rows: list[dict[str, Any]] = field(default_factory=list)
    not_yet: int = 0

    def add(self, type_id: int, ward: int, x: float, y: float, when: dt.datetime, truth: dict[str, Any]) -> int:
        """Append a row and return its index; -1 for a moment still to come (a history holds none: a
        request filed tomorrow would show on today's maps and count against its SLA from the future)."""
        if when > self.now:
            self.not_yet += 1
            return -1
        close_h = float(self.rng.choice(self.profile.close_hours[type_id]))
        closed = when + dt.timedelta(hours=close_h)
        self.rows.append(
            {
                "type": type_id,
                "ward": ward,
                "x": x,
                "y": y,
                "at": when,
                "closed": closed if closed < self.now else None,
                "truth": truth,
            }
        )
        return len(self.rows) - 1


def generate(
    *,
    days: int,
    per_day: int,
    seed: int,
    assumptions: Path,
    end: dt.date | None = None,
    history: ImportBatch | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GenerationReport:
    """Draw `days` of history ending `end` (idempotent for the same parameters) and COPY it in one transaction."""
    t0 = time.perf_counter()
    if days <= 0 or per_day <= 0:
        raise GeneratorError("days and per_day must be positive")
    history = history or ImportBatch.objects.filter(kind="history").order_by("-loaded_at").first()
    if history is None:
        raise GeneratorError("no 311 history is loaded to learn from: run `manage.py load_311` first")
    syn = tomllib.loads(assumptions.read_text(encoding="utf-8")).get("synthetic", {})
    end = end or timezone.localdate()
    key = hashlib.sha256(
        json.dumps([history.checksum, days, per_day, seed, end.isoformat(), syn], sort_keys=True, default=str).encode()
    ).hexdigest()
    done = ImportBatch.objects.filter(kind="synthetic", checksum=key).first()
    if done:
        return GenerationReport(batch_id=done.pk, unchanged=True)
    profile = learn_profile(history, int(syn.get("min_rows_for_type_rate", 30)))
    sampler = StreetSampler.from_active_network(end)
    draw = _Draw(np.random.default_rng(seed), profile, timezone.now())
    start = end - dt.timedelta(days=days)
    _draw_days(draw, sampler, syn, start, days, per_day, progress)
    hot = _plant_hot_spots(draw, sampler, syn, start, days)
    rows = draw.rows
    # Placed like any request (gis_app.placement): the ward the point really falls in (a duplicate's offset can
    # cross a ward line), its layer version, community area, department and due date, and a fresh ticket.
    types = {t.pk: t for t in ServiceType.objects.filter(pk__in=[int(t) for t in profile.type_ids])}
    placed = [_Placed(point_from_lonlat(r["x"], r["y"]), r["at"], types[r["type"]], profile.placed_by) for r in rows]
    place_requests(placed)
    report = GenerationReport(batch_id=None, hot_spot_rows=hot, not_yet=draw.not_yet)
    with transaction.atomic():
        batch = ImportBatch.objects.create(kind="synthetic", source=f"synthetic from {history.source}", checksum=key)
        _copy_rows(rows, placed, batch, report)
        batch.counts = {
            "rows": report.rows,
            "duplicates": report.duplicates,
            "hard_negatives": report.hard_negatives,
            "hot_spot_rows": hot,
            "seed": seed,
            "days": days,
            "per_day": per_day,
        }
        batch.save(update_fields=["counts"])
    # 13x the rows the planner last counted: with stale statistics it reads every request of the last 30 days
    # through the requested_at btree for each dedup lookup (2.5 ms) instead of walking the GiST index (0.3 ms).
    refresh_statistics(ServiceRequest, RequestEvent)
    report.batch_id = batch.pk
    report.seconds = time.perf_counter() - t0
    return report


def _draw_days(
    draw: _Draw,
    sampler: StreetSampler,
    syn: dict[str, Any],
    start: dt.date,
    days: int,
    per_day: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Each day: a Poisson count by weekday, types and hours by the profile, a planted duplicate at the type's rate
    (a labelled pair's gap) and a hard negative (a distinct issue 30-150 m away) at the assumed rate."""
    rng, profile = draw.rng, draw.profile
    weekday = np.array(syn.get("weekday_weights", [1] * 7), dtype=float)
    weekday = weekday / weekday.mean()
    tz = timezone.get_current_timezone()
    for d in range(days):
        day = start + dt.timedelta(days=d)
        n = int(rng.poisson(per_day * weekday[day.weekday()]))
        types = rng.choice(profile.type_ids, size=n, p=profile.type_p)
        hours = rng.choice(24, size=n, p=profile.hour_p)
        for t, h in zip(types.tolist(), hours.tolist(), strict=True):
            wards, wp = profile.wards_by_type[t]
            ward = int(rng.choice(wards, p=wp))
            x, y = sampler.sample(rng, ward)
            when = dt.datetime.combine(day, dt.time(h, int(rng.integers(60)), int(rng.integers(60))), tzinfo=tz)
            parent = draw.add(t, ward, x, y, when, {})
            if rng.random() < profile.dup_rate.get(t, 0.0) and parent >= 0:
                metres, seconds = profile.dup_gaps[rng.integers(len(profile.dup_gaps))]
                dx, dy = _offset(rng, float(metres), y)
                draw.add(
                    t, ward, x + dx, y + dy, when + dt.timedelta(seconds=float(seconds) + 60), {"true_parent": parent}
                )
            if rng.random() < float(syn.get("hard_negative_rate", 0.0)) and parent >= 0:
                dx, dy = _offset(rng, float(rng.uniform(30, 150)), y)
                draw.add(
                    t,
                    ward,
                    x + dx,
                    y + dy,
                    when + dt.timedelta(hours=float(rng.uniform(1, 48))),
                    {"hard_negative_of": parent},
                )
        if progress:
            progress(d + 1, days)


def _plant_hot_spots(draw: _Draw, sampler: StreetSampler, syn: dict[str, Any], start: dt.date, days: int) -> int:
    """Planted hot spots: many requests of one type within 15 m of one spot over the period; returns their count."""
    rng, profile = draw.rng, draw.profile
    tz = timezone.get_current_timezone()
    hot = 0
    for k in range(int(syn.get("hot_spots", 0))):
        t = int(rng.choice(profile.type_ids, p=profile.type_p))
        wards, wp = profile.wards_by_type[t]
        ward = int(rng.choice(wards, p=wp))
        x, y = sampler.sample(rng, ward)
        for _ in range(int(syn.get("hot_spot_requests", 0))):
            day = start + dt.timedelta(days=int(rng.integers(days)))
            when = dt.datetime.combine(day, dt.time(int(rng.choice(24, p=profile.hour_p)), 0), tzinfo=tz)
            dx, dy = _offset(rng, float(rng.uniform(0, 15)), y)
            hot += draw.add(t, ward, x + dx, y + dy, when, {"hot_spot": k}) >= 0
    return hot


def _offset(rng: np.random.Generator, metres: float, lat: float) -> tuple[float, float]:
    bearing = rng.uniform(0, 2 * math.pi)
    return offset_degrees(metres * math.sin(bearing), metres * math.cos(bearing), lat)


@dataclass
class _Placed:
    """What placement reads and fills for one drawn row (a ServiceRequest costs too much at a million rows)."""

    location: Any
    requested_at: dt.datetime
    service_type: ServiceType
    located_by: str = LocatedBy.PIN
    ward_number: int | None = None
    ward_layer_id: int | None = None
    community_area_number: int | None = None
    department: Any = None
    due_at: dt.datetime | None = None
    ticket: str = ""


COLUMNS = [
    "id",
    "ticket",
    "service_type_id",
    "status",
    "location",
    "address",
    "located_by",
    "ward_number",
    "department_id",
    "description",
    "attributes",
    "channel",
    "reporter_name",
    "reporter_email",
    "reporter_phone",
    "anonymous",
    "notify_via",
    "parent_id",
    "follow_up_of_id",
    "due_at",
    "requested_at",
    "updated_at",
    "closed_at",
    "closure_reason",
    "external_id",
    "import_batch_id",
    "source_data",
    "version",
    "ward_layer_id",
    "community_area_number",
]
EVENT_COLUMNS = ["request_id", "at", "actor_id", "actor_label", "verb", "old", "new", "note", "public"]


def _esc(v: Any) -> str:
    if v is None:
        return r"\N"
    s = str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_rows(rows: list[dict[str, Any]], placed: list[_Placed], batch: ImportBatch, report: GenerationReport) -> None:
    """COPY the rows and one audit event each; ids come from the sequence first so duplicates can point at
    their parents."""
    table = ServiceRequest._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [len(rows)])
        ids = [r[0] for r in cur.fetchall()]
    buf, ev = io.StringIO(), io.StringIO()
    now = timezone.now().isoformat()
    for i, (r, pl) in enumerate(zip(rows, placed, strict=True)):
        values, status = _values(i, r, pl, ids, batch, now, report)
        buf.write("\t".join(_esc(v) for v in values) + "\n")
        event = [ids[i], r["at"].isoformat(), None, "generator", "generated", "{}", json.dumps({"status": status})]
        ev.write("\t".join(_esc(v) for v in [*event, "synthetic history", "false"]) + "\n")
        report.counts_by_type[r["type"]] = report.counts_by_type.get(r["type"], 0) + 1
    with connection.cursor() as cur:
        raw = cur.cursor
        with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            copy.write(buf.getvalue())
        with raw.copy(f"COPY {RequestEvent._meta.db_table} ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
            copy.write(ev.getvalue())
    report.rows = len(rows)


def _values(
    i: int, r: dict[str, Any], pl: _Placed, ids: list[int], batch: ImportBatch, now: str, report: GenerationReport
) -> tuple[list[Any], str]:
    """One row's COPY values (in COLUMNS order) and its status; the ground truth goes in source_data."""
    truth = dict(r["truth"])
    parent_id = None
    status = Status.CLOSED if r["closed"] else Status.OPEN
    if "true_parent" in truth:
        truth["true_parent"] = parent_id = ids[truth["true_parent"]]
        status = Status.DUPLICATE
        report.duplicates += 1
    if "hard_negative_of" in truth:
        truth["hard_negative_of"] = ids[truth["hard_negative_of"]]
        report.hard_negatives += 1
    truth["synthetic"] = True
    location = f"SRID=4326;POINT({r['x']:.7f} {r['y']:.7f})"
    closed = r["closed"].isoformat() if r["closed"] else None
    due = pl.due_at.isoformat() if pl.due_at else None
    values = [ids[i], pl.ticket, r["type"], status, location, "", pl.located_by, pl.ward_number, pl.department.pk]
    values += ["", "{}", Channel.IMPORT, "", "", "", "false", NotifyVia.NONE, parent_id, None, due]
    values += [r["at"].isoformat(), now, closed, "", f"SYN-{batch.pk}-{i}", batch.pk, json.dumps(truth), 1]
    values += [pl.ward_layer_id, pl.community_area_number]
    return values, status
