"""Placing a request: the one enrichment step every way in shares.

Staff intake, Open311 intake, the 311 loader and the synthetic generator all call `place_requests`, so a
request gets the same answers whichever way it arrived: its ward from the ward map in force on its filing
date (and the layer version that answered), its community area, its department by type and place, its due
date from the type's SLA (business calendar and storms), and a fresh ticket. Set-based: one ward query and
one community-area query per filing day, the department rules, holidays and storms read once.

"Inside the city" is layers.lookup's one rule; a request whose point is outside comes back with a ward
lookup that says so (`inside` false), and the caller decides (intake refuses, a loader reports the row).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.contrib.gis.geos import Point
from django.utils import timezone

from gis_app.departments import DepartmentRules
from gis_app.due_dates import BusinessCalendar, due_at, storm_table
from gis_app.models import Department, ServiceRequest, ServiceType
from gis_app.tickets import new_ticket
from layers.lookup import AreaLookup, LayerNotLoaded, lookups_at
from layers.models import LayerKind


class Placeable(Protocol):
    """What placement reads and writes: a ServiceRequest, or a lighter row a bulk generator builds."""

    location: Point | None
    requested_at: dt.datetime
    service_type: ServiceType
    ward_number: int | None
    ward_layer_id: int | None
    community_area_number: int | None
    department: Department
    due_at: dt.datetime | None
    ticket: str


@dataclass
class Placement:
    ward: AreaLookup | None  # None without a location
    department_reason: str


def place_requests(requests: Sequence[Any], *, tickets: bool = True) -> list[Placement]:
    """Fill ward (with its layer version), community area, department, due date and (with `tickets`) a fresh
    ticket on each request, in place; returns what was decided, in input order. Raises LayerNotLoaded when no
    ward map is in force on a filing date of a located request."""
    wards = _areas(requests)
    rules = DepartmentRules.in_force()
    calendar = BusinessCalendar.from_settings()
    storms = storm_table()
    fresh = _tickets(len(requests)) if tickets else []
    placed = []
    for i, req in enumerate(requests):
        ward, area = wards[i]
        req.ward_number = ward.number if ward is not None else None
        req.ward_layer_id = ward.layer_version_id if ward is not None and ward.inside else None
        req.community_area_number = area
        req.department, why = rules.choose(req.service_type, req.ward_number, req.community_area_number)
        req.due_at = due_at(req.service_type, req.requested_at, calendar, storms, ward=req.ward_number)
        if tickets:
            req.ticket = fresh[i]
        placed.append(Placement(ward, why))
    return placed


def _areas(requests: Sequence[Any]) -> list[tuple[AreaLookup | None, int | None]]:
    """(ward lookup, community area) per request: one query of each kind per filing day."""
    by_day: dict[dt.date, list[int]] = defaultdict(list)
    for i, req in enumerate(requests):
        if req.location is not None:
            by_day[timezone.localdate(req.requested_at)].append(i)
    out: list[tuple[AreaLookup | None, int | None]] = [(None, None)] * len(requests)
    for day, idx in by_day.items():
        points = [requests[i].location for i in idx]
        wards = lookups_at(LayerKind.WARDS, points, day)
        try:
            areas = [a.number for a in lookups_at(LayerKind.COMMUNITY_AREAS, points, day)]
        except LayerNotLoaded:  # a city without community areas
            areas = [None] * len(idx)
        for i, ward, area in zip(idx, wards, areas, strict=True):
            out[i] = (ward, area)
    return out


def _tickets(n: int) -> list[str]:
    """One: drawn at random (the unique constraint and the caller's retry catch the rare collision); many:
    checked against each other and the table first, since a bulk insert cannot retry row by row."""
    if n == 1:
        return [new_ticket()]
    return ServiceRequest.objects.fresh_tickets(n) if n else []
