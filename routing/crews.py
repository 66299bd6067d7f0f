"""Load a city's crews and depots from the [[depots]] / [[crews]] sections of its assumptions file, idempotently.

Why a file: crews, yards and shifts are the city's data, not code; another city writes its own file.
Crews and depots are matched by code, so loading again updates them in place and never duplicates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from gis_app.models import Department
from layers.coords import CoordinateError, point_from_lonlat
from layers.manifests import read_toml
from routing.models import Crew, Depot


class CrewFileError(ValueError):
    """The crews file is wrong; the message names the entry and what was expected."""


@dataclass
class CrewsReport:
    depots_created: int = 0
    depots_updated: int = 0
    crews_created: int = 0
    crews_updated: int = 0
    not_in_file: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"depots: {self.depots_created} new, {self.depots_updated} updated; "
            f"crews: {self.crews_created} new, {self.crews_updated} updated"
        ]
        if self.not_in_file:
            out.append(f"left alone (not in the file): {', '.join(self.not_in_file)}")
        return out


def _span(text: str, what: str) -> tuple[dt.time, dt.time]:
    try:
        a, b = (dt.time.fromisoformat(p.strip()) for p in str(text).split("-", 1))
    except ValueError:
        raise CrewFileError(f"{what}: expected 'HH:MM-HH:MM'; got {text!r}") from None
    return a, b


def _break(text: str, what: str) -> tuple[dt.time | None, dt.time | None, int]:
    if not text:
        return None, None, 0
    span, _, minutes = str(text).partition("/")
    a, b = _span(span, what)
    try:
        return a, b, int(minutes)
    except ValueError:
        raise CrewFileError(f"{what}: expected 'HH:MM-HH:MM/minutes'; got {text!r}") from None


@transaction.atomic
def load_crews(path: Path) -> CrewsReport:
    data = read_toml(path, CrewFileError, "crews file")
    report = CrewsReport()
    depots: dict[str, Depot] = {}
    for i, d in enumerate(data.get("depots", []), start=1):
        what = f"{path.name} depot {i} ({d.get('code', '?')})"
        try:
            point = point_from_lonlat(d["lon"], d["lat"])
        except KeyError as exc:
            raise CrewFileError(f"{what}: missing {exc.args[0]!r}") from None
        except CoordinateError as exc:
            raise CrewFileError(f"{what}: {exc}") from None
        depot, created = Depot.objects.update_or_create(
            code=d["code"],
            defaults={
                "name": d.get("name", d["code"]),
                "address": d.get("address", ""),
                "location": point,
                "note": d.get("note", ""),
            },
        )
        depots[depot.code] = depot
        report.depots_created += created
        report.depots_updated += not created
    defaults: dict[str, Any] = data.get("crew_defaults", {})
    seen: set[str] = set()
    for i, c in enumerate(data.get("crews", []), start=1):
        what = f"{path.name} crew entry {i} ({c.get('code', '?')})"
        try:
            department = Department.objects.get(code=c["department"])
        except KeyError:
            raise CrewFileError(f"{what}: missing 'department'") from None
        except Department.DoesNotExist:
            raise CrewFileError(
                f"{what}: no department with code {c['department']!r}; load the 311 data (or the service types) first"
            ) from None
        names = c.get("depots") or [c.get("depot")]
        missing = [n for n in names if n not in depots and not Depot.objects.filter(code=n).exists()]
        if missing or not names or names == [None]:
            raise CrewFileError(f"{what}: unknown depot(s) {missing or names}; depots are {sorted(depots)}")
        start, end = _span(c.get("shift", defaults.get("shift", "07:00-15:30")), what)
        b0, b1, bmin = _break(c.get("break", defaults.get("break", "")), what)
        count = int(c.get("count", 1))
        for n in range(1, count + 1):
            code = f"{c['code']}-{n}" if count > 1 else c["code"]
            depot = depots.get(names[(n - 1) % len(names)]) or Depot.objects.get(code=names[(n - 1) % len(names)])
            _, created = Crew.objects.update_or_create(
                code=code,
                defaults={
                    "name": f"{c.get('name', c['code'])} {n}" if count > 1 else c.get("name", code),
                    "department": department,
                    "skills": list(c.get("skills", [])),
                    "depot": depot,
                    "vehicle": c.get("vehicle", ""),
                    "shift_start": start,
                    "shift_end": end,
                    "workdays": list(c.get("workdays", defaults.get("workdays", [0, 1, 2, 3, 4]))),
                    "break_earliest": b0,
                    "break_latest": b1,
                    "break_minutes": bmin,
                    "max_jobs": c.get("max_jobs"),
                    "active": True,
                },
            )
            seen.add(code)
            report.crews_created += created
            report.crews_updated += not created
    report.not_in_file = sorted(Crew.objects.exclude(code__in=seen).values_list("code", flat=True))
    return report
