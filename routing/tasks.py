"""Celery tasks for dispatch: the dispatcher page queues a plan run here (a solve takes tens of seconds)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task
from django.contrib.auth import get_user_model

from gis_app.models import Department
from routing.planning import plan_day


@shared_task
def plan_routes(day: str, department_code: str, *, skill_group: str = "", time_limit: float | None = None,
                user_id: int | None = None, pins: dict[str, str] | None = None,
                locks: dict[str, list[str]] | None = None) -> int:
    """Plan a day as a draft; returns the draft plan's id."""
    user: Any = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    report = plan_day(dt.date.fromisoformat(day), Department.objects.get(code=department_code),
                      skill_group=skill_group, time_limit=time_limit, by=user, pins=pins, locks=locks)
    return report.plan.pk
