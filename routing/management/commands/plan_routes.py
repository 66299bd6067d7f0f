"""Plan a department's day into crew routes (a draft, or published with --publish)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from gis_app.models import Department
from routing.planning import PlanningError, current_plan, next_working_day, plan_day


class Command(BaseCommand):
    help = "Batch a department's open work into optimized crew routes for a day."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date",
            default=None,
            help="Service day, YYYY-MM-DD (default: today); 'workday': today, or the next day a crew of each "
            "department is on shift when today has none (a weekend, a holiday)",
        )
        parser.add_argument(
            "--department",
            action="append",
            default=[],
            help="Department code (repeatable; default: every department with crews).",
        )
        parser.add_argument("--skill-group", default="", help="Plan only work needing this skill.")
        parser.add_argument("--time-limit", type=float, default=None, help="Solver seconds per department.")
        parser.add_argument("--publish", action="store_true", help="Publish the plan (assigns its requests).")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Skip departments that already have a published plan for the day (idempotent demo).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        workday = opts["date"] == "workday"
        try:
            day = dt.date.fromisoformat(opts["date"]) if opts["date"] and not workday else timezone.localdate()
        except ValueError:
            raise CommandError(f"--date must be YYYY-MM-DD or 'workday'; got {opts['date']!r}") from None
        codes = opts["department"] or list(
            Department.objects.filter(crews__active=True).distinct().order_by("code").values_list("code", flat=True)
        )
        if not codes:
            raise CommandError("no department has crews: run `manage.py load_crews` first")
        unknown = sorted(set(codes) - set(Department.objects.filter(code__in=codes).values_list("code", flat=True)))
        if unknown:
            raise CommandError(f"unknown department code(s): {', '.join(unknown)}")
        failed: list[str] = []
        for code in codes:
            department = Department.objects.get(code=code)
            if workday:
                found = next_working_day(department, timezone.localdate())
                if found is None:
                    self.stderr.write(f"{code}: no crew is on shift in the next two weeks; nothing planned")
                    continue
                if found != timezone.localdate():
                    self.stdout.write(f"{code}: no crew works today; planning the next workday, {found:%A %Y-%m-%d}")
                day = found
            if opts["if_missing"] and current_plan(day, department, opts["skill_group"]):
                self.stdout.write(f"{code}: a plan for {day} is already published; skipped")
                continue
            bar = tqdm(total=4, desc=code[:30], unit="step", leave=False)

            def step(msg: str, bar: tqdm = bar) -> None:
                bar.set_postfix_str(msg)
                bar.update(1)

            try:
                report = plan_day(
                    day,
                    department,
                    skill_group=opts["skill_group"],
                    time_limit=opts["time_limit"],
                    publish=opts["publish"],
                    progress=step,
                )
            except PlanningError as exc:
                bar.close()
                self.stderr.write(f"{code}: {exc}")
                failed.append(code)
                continue
            bar.close()
            self.stdout.write("\n".join(report.lines()))
        if failed:  # the others were planned; the exit status tells a scheduler that some were not
            raise CommandError(f"no plan for {', '.join(failed)}: see the reasons above")
