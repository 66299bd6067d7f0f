"""Dispatch: a department's open work and crews become a routing problem, a solved plan, published routes.

`build_problem` turns rows into the optimizer's Django-free dataclasses (one job per duplicate group,
service minutes from the type, windows from appointments and SLA due dates, priority from type and
overdue-ness, crews on shift with their depots, travel times from the street network) and decides which
jobs fit the day: most urgent first up to what the day's crews can do, the rest stay open with a reason.
`plan_day` solves (or re-plans from the crews' current state when a plan is already out) and saves a
draft; `publish` makes a draft the day's plan, assigns its requests through the transitions module and
records, per crew, what changed. Publishing is serialised per department row, and a draft whose base is
no longer the published plan is refused: two dispatchers cannot overwrite each other's day.
"""

from routing.planning.build import (
    BuiltProblem,
    PlanningError,
    build_problem,
    crews_for,
    dispatch_pool,
    next_working_day,
)
from routing.planning.day import PlanReport, crew_states, plan_day
from routing.planning.publish import PlanConflict, publish_plan
from routing.planning.save import current_plan, plan_totals, save_plan

__all__ = [
    "BuiltProblem",
    "PlanConflict",
    "PlanReport",
    "PlanningError",
    "build_problem",
    "crew_states",
    "crews_for",
    "current_plan",
    "dispatch_pool",
    "next_working_day",
    "plan_day",
    "plan_totals",
    "publish_plan",
    "save_plan",
]
