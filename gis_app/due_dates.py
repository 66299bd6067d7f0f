"""Due dates: a business-hours calendar in the city's time zone, calendar-day SLAs, and storm extensions.

Pure reads: nothing here writes (declaring a storm, which re-dates open work, lives beside the SLA alert
job in gis_app.sla_alerts).

The calendar (work days, opening hours, holidays) is data: settings give the week and the hours,
the Holiday table the days off, so another city configures its own without code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from gis_app.choices import SlaKind
from gis_app.models import Holiday, StormMode
from layers.memo import remembered


@dataclass(frozen=True)
class BusinessCalendar:
    tz: ZoneInfo
    workdays: frozenset[int]  # Monday = 0
    opens: dt.time
    closes: dt.time
    holidays: frozenset[dt.date]

    @classmethod
    def from_settings(cls, holidays: frozenset[dt.date] | None = None) -> BusinessCalendar:
        if holidays is None:
            holidays = remembered("gis:holidays", lambda: frozenset(Holiday.objects.values_list("date", flat=True)))
        opens, closes = (dt.time.fromisoformat(t) for t in settings.CITY_BUSINESS_HOURS.split("-"))
        return cls(
            tz=ZoneInfo(settings.TIME_ZONE),
            workdays=frozenset(settings.CITY_WORKDAYS),
            opens=opens,
            closes=closes,
            holidays=holidays,
        )

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def add_business_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """The instant `hours` of open time after `start` (which may fall outside opening hours)."""
        if hours < 0:
            raise ValueError("hours must be ≥ 0")
        if not self.workdays:
            raise ValueError("the business calendar has no work days")
        current = start.astimezone(self.tz)
        remaining = dt.timedelta(hours=hours)
        while True:
            day = current.date()
            open_at = dt.datetime.combine(day, self.opens, tzinfo=self.tz)
            close_at = dt.datetime.combine(day, self.closes, tzinfo=self.tz)
            if self.is_business_day(day) and current < close_at:
                current = max(current, open_at)
                available = close_at - current
                if remaining <= available:
                    return current + remaining
                remaining -= available
            current = dt.datetime.combine(day + dt.timedelta(days=1), self.opens, tzinfo=self.tz)


def due_at(
    service_type: Any,
    requested_at: dt.datetime,
    calendar: BusinessCalendar | None = None,
    storms: list[tuple[int, dt.datetime, dt.datetime, float, list[int]]] | None = None,
    ward: int | None = None,
) -> dt.datetime:
    """When the city promises to be done, storms included (a storm limited to some wards counts only there).

    `storms` (type id, start, end, hours, wards) lets a bulk loader read the storm table once.
    """
    if service_type.sla_kind == SlaKind.CALENDAR_DAYS:
        base = requested_at + dt.timedelta(days=service_type.sla_amount)
    else:
        base = (calendar or BusinessCalendar.from_settings()).add_business_hours(requested_at, service_type.sla_amount)
    if storms is None:
        storms = [
            (service_type.pk, s.starts_at, s.ends_at, s.extension_hours, list(s.wards or []))
            for s in StormMode.objects.filter(
                service_types=service_type, starts_at__lte=requested_at, ends_at__gt=requested_at
            )
        ]
    extension = max(
        (
            h
            for tid, a, b, h, wards in storms
            if tid == service_type.pk and a <= requested_at < b and (not wards or ward in wards)
        ),
        default=0,
    )
    return base + dt.timedelta(hours=extension or 0)


def storm_table() -> list[tuple[int, dt.datetime, dt.datetime, float, list[int]]]:
    """Every declared storm per type it covers (remembered until a storm changes: layers.memo)."""
    return remembered(
        "gis:storms",
        lambda: [
            (t.pk, s.starts_at, s.ends_at, s.extension_hours, list(s.wards or []))
            for s in StormMode.objects.prefetch_related("service_types")
            for t in s.service_types.all()
        ],
    )
