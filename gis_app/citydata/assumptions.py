"""Apply a city's demo assumptions (fixtures/<city>/assumptions.toml): holidays, SLAs, crew minutes, skills.

SLAs come from the loaded history itself: the chosen percentile of observed time to close per type
where enough closed rows exist, else a stated default. Idempotent: running it again sets the same values.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.db import transaction

from gis_app.choices import SlaKind
from gis_app.models import Holiday, ServiceRequest, ServiceType
from gis_app.transitions import DONE


@dataclass
class AssumptionsReport:
    holidays: int = 0
    sla_from_data: dict[str, float] = field(default_factory=dict)  # type code -> days
    sla_default: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"{self.holidays} holidays; SLA from observed P-close on {len(self.sla_from_data)} types, "
            f"default on {len(self.sla_default)}"
        ]


@transaction.atomic
def apply_assumptions(path: Path) -> AssumptionsReport:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    report = AssumptionsReport()
    for h in data.get("calendar", {}).get("holidays", []):
        Holiday.objects.update_or_create(date=h["date"], defaults={"name": h["name"]})
        report.holidays += 1
    sla = data.get("sla", {})
    pct, min_rows = float(sla.get("percentile", 80)), int(sla.get("min_rows", 20))
    default_days, floor_h = float(sla.get("default_days", 7)), float(sla.get("minimum_hours", 1))
    minutes = data.get("expected_minutes", {})
    skills = data.get("skills", {})
    closed = ServiceRequest.objects.filter(status__in=DONE, closed_at__isnull=False, import_batch__kind="history")
    hours_by_type: dict[int, list[float]] = {}
    for type_id, opened, shut in closed.values_list("service_type_id", "requested_at", "closed_at"):
        if shut is not None and shut >= opened:
            hours_by_type.setdefault(type_id, []).append((shut - opened) / dt.timedelta(hours=1))
    for st in ServiceType.objects.all():
        observed = hours_by_type.get(st.pk, [])
        st.sla_kind = SlaKind.CALENDAR_DAYS
        if len(observed) >= min_rows:
            hours = max(floor_h, float(np.percentile(observed, pct)))
            st.sla_amount = round(hours / 24, 3)
            st.sla_text = f"Usually done within {_human(hours)}."
            st.sla_basis = (
                f"Assumption: {int(pct)}% of these were closed within {_human(hours)} in the City's "
                f"data ({len(observed)} requests)."
            )
            report.sla_from_data[st.code] = st.sla_amount
        else:
            st.sla_amount = default_days
            st.sla_text = f"Usually done within {default_days:g} days."
            st.sla_basis = f"Assumption: within {default_days:g} days (too little history for this type)."
            report.sla_default.append(st.code)
        st.expected_minutes = int(minutes.get(st.name, minutes.get("default", st.expected_minutes)))
        st.required_skill = skills.get(st.name, st.required_skill)
        st.save()
    return report


def _human(hours: float) -> str:
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.1f} days"
