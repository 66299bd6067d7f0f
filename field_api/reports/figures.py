"""The standard 311 figures, each one SQL statement over the request table, whatever the number of wards,
types or requests (the page's query count is fixed; `benchmarks/reports.py` times them at 1 M requests).

Definitions (the pages print them, `DEFINITIONS`):
- *raw requests*: every request filed, duplicates included; *unique issues*: requests that are not a duplicate
  of another (no parent); *distinct reporters*: different e-mail addresses or phone numbers among them.
- Open, closed, days to close, age and SLA count unique issues only: a duplicate closes with its parent and
  would count one pothole twice.
- *closed*: completed or closed (a cancelled request is neither open nor a closure of work);
  *days to close*: closed_at - requested_at;
- *SLA compliance*: issues with a due date that were closed by it, over those closed by it, closed after it
  or still open past it (an open issue not yet due is not counted either way).
- *satisfaction*: "is it fixed?" answers saying yes, over all answers, for requests in the rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone

from gis_app.choices import OPEN_STATUSES
from gis_app.db_router import reading_connection
from gis_app.models import Department, ServiceRequest, ServiceType, day_start
from layers.importing import BOUNDARY_MODELS, area_sizes
from layers.lookup import district_codes, version_in_force
from layers.models import LayerKind

DEFINITIONS = __doc__.split("Definitions (the pages print them, `DEFINITIONS`):\n", 1)[1].strip()
DIMENSIONS = ("department", "ward", "type", "week")
AGE_BUCKETS = ((0, 3, "0 to 2 days"), (3, 8, "3 to 7 days"), (8, 31, "8 to 30 days"), (31, 91, "31 to 90 days"))
MAX_DAYS = 3660
SENSITIVE_KEY = "_sensitive"
SENSITIVE_LABEL = "Sensitive types (counted, not itemised)"


class ReportInputError(ValueError):
    """A filter the reports cannot use; the message says what was expected."""


@dataclass(frozen=True)
class ReportFilters:
    types: tuple[str, ...] = ()
    department: str = ""
    status: str = "all"  # all | open | closed
    start: dt.date | None = None
    end: dt.date | None = None
    ward: int | None = None

    def query(self) -> dict[str, str]:
        """The filters as query parameters (links between pages keep them)."""
        out = {"status": self.status} if self.status != "all" else {}
        if self.types:
            out["type"] = ",".join(self.types)
        if self.department:
            out["department"] = self.department
        if self.start:
            out["start"] = self.start.isoformat()
        if self.end:
            out["end"] = self.end.isoformat()
        return out


def _date(raw: str, name: str) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ReportInputError(f"{name} must be a date as YYYY-MM-DD; got {raw[:40]!r}") from None


def parse_report_filters(q: QueryDict | dict[str, str], default_days: int | None = None) -> ReportFilters:
    """Filters from a query string: type (codes, comma-separated), department (code), status (all, open,
    closed), start and end (filing dates, inclusive), ward. Unknown codes are refused by name."""
    types = tuple(sorted({c.strip() for c in str(q.get("type") or "").split(",") if c.strip()}))
    if len(types) > 200:
        raise ReportInputError("type: at most 200 type codes")
    unknown = ServiceType.objects.public().unknown_codes(types) if types else []  # no filtering on a sensitive one
    if unknown:
        raise ReportInputError(f"type: unknown service type code(s) {', '.join(sorted(unknown)[:5])}")
    department = str(q.get("department") or "").strip()
    if department and not Department.objects.filter(code=department).exists():
        raise ReportInputError(f"department: no department has the code {department[:60]!r}")
    status = str(q.get("status") or "all")
    if status not in ("all", "open", "closed"):
        raise ReportInputError("status must be all, open or closed")
    start, end = _date(str(q.get("start") or ""), "start"), _date(str(q.get("end") or ""), "end")
    if default_days and not start and not end:
        end = timezone.localdate()
        start = end - dt.timedelta(days=default_days - 1)
    elif default_days and start and not end:
        end = max(start, timezone.localdate())
    if start and end and end < start:
        raise ReportInputError("end must be on or after start")
    if start and end and (end - start).days > MAX_DAYS:
        raise ReportInputError(f"a report covers at most {MAX_DAYS} days")
    ward_raw = str(q.get("ward") or "").strip()
    try:
        ward = int(ward_raw) if ward_raw else None
    except ValueError:
        raise ReportInputError(f"ward must be a number; got {ward_raw[:20]!r}") from None
    return ReportFilters(types=types, department=department, status=status, start=start, end=end, ward=ward)


_UNIQUE = "r.parent_id IS NULL AND r.status <> 'duplicate'"
_OPEN = "r.status = ANY(%(open_statuses)s)"
_CLOSED = "r.status IN ('completed', 'closed') AND r.closed_at IS NOT NULL"
_DAYS = "extract(epoch FROM r.closed_at - r.requested_at) / 86400.0"
_AGE = "extract(epoch FROM %(now)s - r.requested_at) / 86400.0"

METRICS_SQL = f"""
    count(*) AS raw,
    count(*) FILTER (WHERE {_UNIQUE}) AS issues,
    count(DISTINCT lower(COALESCE(NULLIF(r.reporter_email, ''), NULLIF(r.reporter_phone, ''))))
        AS reporters,
    count(*) FILTER (WHERE {_UNIQUE} AND {_OPEN}) AS open,
    count(*) FILTER (WHERE {_UNIQUE} AND {_CLOSED}) AS closed,
    avg({_DAYS}) FILTER (WHERE {_UNIQUE} AND {_CLOSED}) AS avg_days,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY {_DAYS}) FILTER (WHERE {_UNIQUE} AND {_CLOSED}) AS median_days,
    count(*) FILTER (WHERE {_UNIQUE} AND r.due_at IS NOT NULL AND {_CLOSED} AND r.closed_at <= r.due_at) AS sla_met,
    count(*) FILTER (WHERE {_UNIQUE} AND r.due_at IS NOT NULL AND (({_CLOSED} AND r.closed_at > r.due_at)
                     OR ({_OPEN} AND r.due_at < %(now)s))) AS sla_missed,
    count(*) FILTER (WHERE {_UNIQUE} AND {_OPEN} AND r.due_at < %(now)s) AS overdue,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY {_AGE}) FILTER (WHERE {_UNIQUE} AND {_OPEN}) AS median_age,
    {
    ", ".join(
        f"count(*) FILTER (WHERE {_UNIQUE} AND {_OPEN} AND {_AGE} >= {lo} AND {_AGE} < {hi}) AS age_{i}"
        for i, (lo, hi, _) in enumerate(AGE_BUCKETS)
    )
},
    count(*) FILTER (WHERE {_UNIQUE} AND {_OPEN} AND {_AGE} >= {AGE_BUCKETS[-1][1]}) AS age_{len(AGE_BUCKETS)},
    COALESCE(sum(s.yes), 0) AS fixed_yes,
    COALESCE(sum(s.answers), 0) AS answers
"""
SURVEY_JOIN = """
    LEFT JOIN (SELECT request_id, count(*) FILTER (WHERE fixed) AS yes, count(*) AS answers
               FROM gis_app_surveyanswer GROUP BY request_id) s ON s.request_id = r.id
"""
AGE_LABELS = [label for _, _, label in AGE_BUCKETS] + [f"over {AGE_BUCKETS[-1][1] - 1} days"]


def _where(f: ReportFilters) -> tuple[str, dict[str, Any]]:
    clauses = ["TRUE"]
    params: dict[str, Any] = {"open_statuses": list(OPEN_STATUSES), "now": timezone.now()}
    # Codes become ids in subqueries: the request table is read with no join (labels join the grouped rows).
    if f.types:
        clauses.append("r.service_type_id IN (SELECT id FROM gis_app_servicetype WHERE code = ANY(%(types)s))")
        params["types"] = list(f.types)
    if f.department:
        clauses.append("r.department_id = (SELECT id FROM gis_app_department WHERE code = %(department)s)")
        params["department"] = f.department
    if f.status == "open":
        clauses.append(_OPEN)
    elif f.status == "closed":
        clauses.append(_CLOSED)
    if f.start:
        clauses.append("r.requested_at >= %(start)s")
        params["start"] = day_start(f.start)
    if f.end:
        clauses.append("r.requested_at < %(end)s")
        params["end"] = day_start(f.end + dt.timedelta(days=1))
    if f.ward is not None:
        clauses.append("r.ward_number = %(ward)s")
        params["ward"] = f.ward
    return " AND ".join(clauses), params


# Per dimension: the group computed on the request rows (ids, cheap), then its key and label from the grouped
# rows (one join per group, not per request). Sensitive types are counted together, never named one by one
# (their names alone can say too much): their group is 0.
_GROUPS = {
    "department": ("r.department_id", "LEFT JOIN gis_app_department d ON d.id = a.g", "d.code", "d.name"),
    "ward": ("r.ward_number", "", "a.g", "%(district)s || ' ' || a.g::text"),  # the city's word: "ward 3"
    "type": (
        "CASE WHEN r.service_type_id IN (SELECT id FROM gis_app_servicetype WHERE sensitive) THEN 0 "
        "ELSE r.service_type_id END",
        "LEFT JOIN gis_app_servicetype t ON t.id = a.g",
        f"CASE WHEN a.g = 0 THEN '{SENSITIVE_KEY}' ELSE t.code END",
        f"CASE WHEN a.g = 0 THEN '{SENSITIVE_LABEL}' ELSE t.name END",
    ),
    "week": (
        "to_char(date_trunc('week', r.requested_at AT TIME ZONE %(tz)s), 'YYYY-MM-DD')",
        "",
        "a.g",
        "'week of ' || a.g",
    ),
}


def breakdown(f: ReportFilters, by: str) -> dict[str, Any]:
    """Every metric for each value of `by` (department, ward, type, week) and for all rows, in one query
    (GROUPING SETS): {"rows": [...], "total": {...}}."""
    if by not in _GROUPS:
        raise ReportInputError(f"by must be one of {', '.join(DIMENSIONS)}")
    group, join, key, label = _GROUPS[by]
    where, params = _where(f)
    params["tz"] = settings.TIME_ZONE
    params["district"] = settings.CITY_DISTRICT_WORD
    sql = f"""
        WITH a AS (
            SELECT {group} AS g, GROUPING({group}) AS is_total, {METRICS_SQL}
            FROM {ServiceRequest._meta.db_table} r
            {SURVEY_JOIN}
            WHERE {where}
            GROUP BY GROUPING SETS (({group}), ())
        )
        SELECT {key} AS key, {label} AS label, a.* FROM a {join}
        ORDER BY a.is_total, {"a.g" if by in ("week", "ward") else "label"}
    """
    with reading_connection().cursor() as cur:
        cur.execute(sql, params)
        cols = [c.name for c in cur.description]
        rows = [finish(dict(zip(cols, row, strict=True))) for row in cur.fetchall()]
    codes = district_codes() if by == "ward" else {}
    for row in rows:
        g = row.pop("g")
        if g in codes:  # the district as the city writes it ("supervisor district 3B")
            row["label"] = f"{settings.CITY_DISTRICT_WORD} {codes[g]}"
    total = next((r for r in rows if r["is_total"]), None) or finish({"key": None, "label": "All", **EMPTY_ROW})
    total["label"] = "All"
    return {"by": by, "rows": [r for r in rows if not r["is_total"]], "total": total}


EMPTY_ROW: dict[str, Any] = {
    "is_total": 1,
    "raw": 0,
    "issues": 0,
    "reporters": 0,
    "open": 0,
    "closed": 0,
    "avg_days": None,
    "median_days": None,
    "sla_met": 0,
    "sla_missed": 0,
    "overdue": 0,
    "median_age": None,
    **{f"age_{i}": 0 for i in range(len(AGE_LABELS))},
    "fixed_yes": 0,
    "answers": 0,
}


def finish(row: dict[str, Any]) -> dict[str, Any]:
    """Derived figures, rounded as the page shows them (the CSV writes these same values)."""
    row["fixed_yes"], row["answers"] = int(row["fixed_yes"]), int(row["answers"])  # SQL sums are numeric
    judged = row["sla_met"] + row["sla_missed"]
    row["sla_compliance"] = round(row["sla_met"] / judged, 3) if judged else None
    row["flagged"] = row["sla_compliance"] is not None and row["sla_compliance"] < settings.REPORTS_SLA_TARGET
    row["satisfaction"] = round(row["fixed_yes"] / row["answers"], 3) if row["answers"] else None
    for name in ("avg_days", "median_days", "median_age"):
        row[name] = round(float(row[name]), 1) if row[name] is not None else None
    row["ages"] = [row[f"age_{i}"] for i in range(len(AGE_LABELS))]
    return row


CSV_COLUMNS = [
    ("label", "group"),
    ("raw", "raw requests"),
    ("issues", "unique issues"),
    ("reporters", "distinct reporters"),
    ("open", "open"),
    ("closed", "closed"),
    ("avg_days", "average days to close"),
    ("median_days", "median days to close"),
    ("sla_met", "closed within SLA"),
    ("sla_missed", "SLA missed"),
    ("sla_compliance", "SLA compliance"),
    ("overdue", "open and overdue"),
    ("median_age", "median age of open (days)"),
    *[(f"age_{i}", f"open {label}") for i, label in enumerate(AGE_LABELS)],
    ("answers", "survey answers"),
    ("satisfaction", "share saying fixed"),
]


def ward_map(f: ReportFilters, on: dt.date | None = None) -> dict[str, Any]:
    """Per ward of the map in force: area, open, overdue, median age of open, filed in the filters' rows; wards
    with no request are listed too. One query, however many wards or requests."""
    version = version_in_force(LayerKind.WARDS, on)
    where, params = _where(f)
    params["version"] = version.pk
    table = BOUNDARY_MODELS[LayerKind.WARDS][0]._meta.db_table
    sql = f"""
        WITH agg AS (
            SELECT r.ward_number,
                   count(*) AS raw,
                   count(*) FILTER (WHERE {_UNIQUE} AND {_OPEN}) AS open,
                   count(*) FILTER (WHERE {_UNIQUE} AND {_OPEN} AND r.due_at < %(now)s) AS overdue
            FROM {ServiceRequest._meta.db_table} r
            WHERE {where} AND r.ward_number IS NOT NULL
            GROUP BY r.ward_number
        ),
        -- The median sorts its rows: only the open ones, in their own pass (the counts above need no sort).
        ages AS (
            SELECT r.ward_number, percentile_cont(0.5) WITHIN GROUP (ORDER BY {_AGE}) AS median_age
            FROM {ServiceRequest._meta.db_table} r
            WHERE {where} AND r.ward_number IS NOT NULL AND {_UNIQUE} AND {_OPEN}
            GROUP BY r.ward_number
        )
        SELECT w.number, COALESCE(NULLIF(w.code, ''), w.number::text), w.name,
               COALESCE(a.raw, 0), COALESCE(a.open, 0), COALESCE(a.overdue, 0), g.median_age
        FROM {table} w LEFT JOIN agg a ON a.ward_number = w.number LEFT JOIN ages g ON g.ward_number = w.number
        WHERE w.layer_version_id = %(version)s
        ORDER BY w.number
    """
    sizes = (version.report or {}).get("areas_km2")
    if sizes is None:  # a version loaded before sizes were kept: measured once, then kept with it
        sizes = area_sizes(version)
        version.report = {**(version.report or {}), "areas_km2": sizes}
        version.save(update_fields=["report"])
    with reading_connection().cursor() as cur:
        cur.execute(sql, params)
        wards = []
        for number, code, name, raw, open_, overdue, age in cur.fetchall():
            km2 = sizes.get(str(number))
            wards.append(
                {
                    "ward": number,
                    "code": code,  # as the city writes it ("09410", "District 3B"): what pages show
                    "name": name,
                    "km2": round(km2, 2) if km2 else None,
                    "filed": raw,
                    "open": open_,
                    "overdue": overdue,
                    "open_per_km2": round(open_ / km2, 2) if km2 else None,
                    "overdue_share": round(overdue / open_, 3) if open_ else None,
                    "median_age": round(float(age), 1) if age is not None else None,
                }
            )
    return {"layer": {"id": version.pk, "name": version.name}, "filters": f.query(), "wards": wards}


WORSE_COMPLIANCE_DROP = 0.05
WORSE_DAYS_RISE = 1.25
WORSE_FILED_RISE = 1.5
PAST_WEEKS = 8


def weekly_review(department: str, week_end: dt.date) -> dict[str, Any]:
    """CitiStat-style: one department's last seven days (to `week_end`) against the eight weeks before, per
    type, over requests filed in each period; what got worse; the oldest open issues. Three queries."""
    this = ReportFilters(department=department, start=week_end - dt.timedelta(days=6), end=week_end)
    past = ReportFilters(
        department=department,
        start=week_end - dt.timedelta(days=6 + 7 * PAST_WEEKS),
        end=week_end - dt.timedelta(days=7),
    )
    now_rows = {r["key"]: r for r in breakdown(this, "type")["rows"]}
    past_rows = {r["key"]: r for r in breakdown(past, "type")["rows"]}
    lines = []
    for code in sorted(set(now_rows) | set(past_rows)):
        cur = now_rows.get(code) or finish({"key": code, "label": past_rows[code]["label"], **EMPTY_ROW})
        old = past_rows.get(code) or finish({"key": code, "label": cur["label"], **EMPTY_ROW})
        usual_filed = round(old["raw"] / PAST_WEEKS, 1)
        reasons = []
        if (
            cur["sla_compliance"] is not None
            and old["sla_compliance"] is not None
            and cur["sla_compliance"] <= old["sla_compliance"] - WORSE_COMPLIANCE_DROP
        ):
            reasons.append(f"SLA compliance {cur['sla_compliance']:.0%} against {old['sla_compliance']:.0%}")
        if (
            cur["median_days"] is not None
            and old["median_days"] is not None
            and cur["median_days"] >= old["median_days"] * WORSE_DAYS_RISE
            and cur["median_days"] - old["median_days"] >= 1
        ):
            reasons.append(f"median {cur['median_days']} days to close against {old['median_days']}")
        if cur["raw"] >= usual_filed * WORSE_FILED_RISE and cur["raw"] - usual_filed >= 5:
            reasons.append(f"{cur['raw']} filed against {usual_filed} a week")
        line = {"code": code, "label": cur["label"], "now": cur, "past": old, "usual_filed": usual_filed}
        lines.append({**line, "worse": reasons})
    oldest = list(
        ServiceRequest.objects.open()
        .filter(department__code=department, parent__isnull=True, service_type__sensitive=False)
        .select_related("service_type")
        .order_by("requested_at", "id")
        .values("ticket", "service_type__name", "requested_at", "ward_number", "due_at", "status")[:10]
    )
    return {
        "department": Department.objects.filter(code=department).first(),
        "week_start": this.start,
        "week_end": week_end,
        "past_start": past.start,
        "past_end": past.end,
        "lines": lines,
        "worse": [line for line in lines if line["worse"]],
        "oldest": oldest,
        "criteria": (
            f"worse: SLA compliance down {WORSE_COMPLIANCE_DROP:.0%} points or more; median days to close up "
            f"{WORSE_DAYS_RISE - 1:.0%} and a day or more; filed {WORSE_FILED_RISE:g} times the usual week and 5 more"
        ),
    }
