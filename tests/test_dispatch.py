"""Dispatch: open work and crews become a routing problem, a plan, published routes, and re-plans."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from gis_app.choices import Status
from gis_app.models import RequestEvent, ServiceRequest
from gis_app.transitions import apply
from routing.models import PlanStatus, RoutePlan, Stop, StopStatus
from routing.planning import PlanConflict, build_problem, plan_day, publish_plan
from tests.conftest import file_request, make_crew, on_grid

pytestmark = pytest.mark.django_db


def tomorrow() -> dt.date:
    """Read at each use, not at import: a run that crosses the city's midnight keeps its dates true."""
    return timezone.localdate() + dt.timedelta(days=1)


def at(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=ZoneInfo(settings.TIME_ZONE))


def test_each_duplicate_group_is_one_job_and_info_calls_never_are(open_work, streets_dept, info_call):
    parent = open_work["potholes"][0]
    for _ in range(2):
        child = file_request("pothole", on_grid(0, 1.55))
        apply(child, "mark_duplicate", parent=parent, actor_label="test")
    file_request("info", None)
    built = build_problem(tomorrow(), streets_dept, now=at(tomorrow(), 6))
    ids = {j.id for j in built.problem.jobs}
    assert ids == {r.ticket for r in open_work["potholes"] + open_work["lights"]}
    assert len(built.problem.jobs) == 10
    light = next(j for j in built.problem.jobs if j.id == open_work["lights"][0].ticket)
    assert light.required_skill == "electrical" and light.service_seconds == 20 * 60


def test_a_crew_off_on_the_day_is_not_in_the_problem(open_work, streets_dept, yard):
    weekday = tomorrow().weekday()
    make_crew("crew-charlie", streets_dept, yard, workdays=[d for d in range(7) if d != weekday])
    built = build_problem(tomorrow(), streets_dept, now=at(tomorrow(), 6))
    assert sorted(c.id for c in built.problem.crews) == ["crew-alpha", "crew-bravo"]


def test_work_beyond_the_day_stays_open_with_a_reason(open_work, streets_dept, settings):
    settings.ROUTING_MAX_JOBS_PER_PLAN = 3
    built = build_problem(tomorrow(), streets_dept, now=at(tomorrow(), 6))
    assert len(built.problem.jobs) == 3
    held = [h for h in built.held_back if h["reason"] == "day_full"]
    assert len(held) == 7 and "rank 4 of 10 by urgency" in held[0]["detail"]


def test_work_no_crew_can_do_is_held_back_with_the_skill_it_needs(open_work, streets_dept, crews):
    crews["bravo"].active = False
    crews["bravo"].save()
    built = build_problem(tomorrow(), streets_dept, now=at(tomorrow(), 6))
    no_skill = {h["ticket"] for h in built.held_back if h["reason"] == "no_crew_with_skill"}
    assert no_skill == {r.ticket for r in open_work["lights"]}
    assert "electrical" in built.held_back[0]["detail"]


def test_a_plan_puts_each_job_with_a_crew_that_has_its_skill(open_work, streets_dept):
    report = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6))
    plan = report.plan
    assert plan.status == PlanStatus.DRAFT and plan.stats["jobs_planned"] == 10 and plan.dropped == []
    by_crew = {r.crew.code: [s.request.ticket for s in r.stops.all()] for r in plan.routes.all()}
    assert set(by_crew["crew-bravo"]) == {r.ticket for r in open_work["lights"]}
    assert set(by_crew["crew-alpha"]) == {r.ticket for r in open_work["potholes"]}
    route = plan.routes.get(crew__code="crew-alpha")
    assert route.geometry is not None and route.geometry.num_points > 7  # along the streets, not straight lines
    etas = list(route.stops.values_list("eta", flat=True))
    assert etas == sorted(etas) and etas[0] >= at(tomorrow(), 7)
    # A draft assigns nothing yet.
    assert ServiceRequest.objects.filter(status=Status.ASSIGNED).count() == 0


def test_publishing_assigns_the_requests_with_audit_events(open_work, streets_dept, dispatcher):
    plan = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6), by=dispatcher).plan
    publish_plan(plan, by=dispatcher)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PUBLISHED and plan.published_by == dispatcher
    assert ServiceRequest.objects.filter(status=Status.ASSIGNED).count() == 10
    event = RequestEvent.objects.filter(request=open_work["potholes"][0], verb="assign").get()
    assert event.actor == dispatcher and "Crew Alpha, stop" in event.note
    assert all(r.version == 1 and r.changes["first_version"] for r in plan.routes.all())


def test_a_second_publish_of_the_same_day_from_a_stale_draft_is_refused(open_work, streets_dept, dispatcher):
    first = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6)).plan
    second = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6)).plan
    publish_plan(first, by=dispatcher)
    with pytest.raises(PlanConflict, match=f"plan #{first.pk} .* was published by dispatcher"):
        publish_plan(second, by=dispatcher)
    second.refresh_from_db()
    assert second.status == PlanStatus.DRAFT
    assert RoutePlan.objects.filter(status=PlanStatus.PUBLISHED).get() == first


def test_a_newer_plan_supersedes_and_each_crew_sees_what_changed(open_work, streets_dept, dispatcher, crews):
    first = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6), publish=True).plan
    crews["bravo"].skills = ["electrical", "paving"]
    crews["bravo"].save()
    moved = open_work["potholes"][0].ticket
    second = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6), pins={moved: "crew-bravo"}).plan
    assert second.based_on == first
    publish_plan(second, by=dispatcher)
    first.refresh_from_db()
    assert first.status == PlanStatus.SUPERSEDED
    alpha = second.routes.get(crew__code="crew-alpha")
    bravo = second.routes.get(crew__code="crew-bravo")
    assert alpha.version == 2 and moved in alpha.changes["removed"]
    assert moved in bravo.changes["added"]


def test_a_job_pinned_to_a_crew_without_its_skill_is_left_open_saying_so(open_work, streets_dept):
    moved = open_work["potholes"][0].ticket
    plan = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6), pins={moved: "crew-bravo"}).plan
    (why,) = [d for d in plan.dropped if d["ticket"] == moved]
    assert why["reason"] == "no_crew_with_skill" and "crew-bravo" in why["detail"]


def test_re_planning_during_the_day_keeps_done_and_started_stops(open_work, streets_dept):
    plan = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6), publish=True).plan
    alpha = plan.routes.get(crew__code="crew-alpha")
    done, started = list(alpha.stops.all())[:2]
    Stop.objects.filter(pk=done.pk).update(status=StopStatus.COMPLETED, status_at=at(tomorrow(), 8))
    apply(done.request, "complete", note="filled", photos=1, actor_label="crew")
    Stop.objects.filter(pk=started.pk).update(status=StopStatus.STARTED, status_at=at(tomorrow(), 9))
    late = file_request("pothole", on_grid(4, 0.5))
    report = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 9, 10))
    assert report.replanned
    new_alpha = report.plan.routes.get(crew__code="crew-alpha")
    stops = list(new_alpha.stops.all())
    assert [(s.request_id, s.status) for s in stops[:2]] == [
        (done.request_id, "completed"),
        (started.request_id, "started"),
    ]
    tickets = [s.request.ticket for s in stops]
    assert late.ticket in tickets and len(tickets) == len(set(tickets))
    assert all(s.eta >= at(tomorrow(), 9, 10) for s in stops[2:])


def test_the_command_plans_and_publishes_every_department_with_crews(open_work, capsys):
    call_command("plan_routes", "--date", tomorrow().isoformat(), "--time-limit", "1", "--publish")
    out = capsys.readouterr().out
    assert "10 jobs on 2/2 crews" in out and "published" in out
    assert RoutePlan.objects.get().status == PlanStatus.PUBLISHED


def test_the_command_explains_bad_arguments(open_work):
    with pytest.raises(CommandError, match="unknown department code"):
        call_command("plan_routes", "--department", "nope")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("plan_routes", "--date", "tomorrow")


def test_the_dispatcher_page_runs_pins_and_publishes(client, dispatcher, open_work, streets_dept):
    client.force_login(dispatcher)
    url = f"/dispatch/?date={tomorrow()}&department={streets_dept.code}"
    assert "Plan the day" in client.get(url).content.decode()
    resp = client.post("/dispatch/run/", {"date": tomorrow(), "department": streets_dept.code, "time_limit": 1})
    plan = RoutePlan.objects.get()
    assert resp.status_code == 302 and f"plan={plan.pk}" in resp["Location"]
    geo = client.get(f"/dispatch/plans/{plan.pk}.geojson").json()
    assert sum(f["properties"]["kind"] == "stop" for f in geo["features"]) == 10
    alpha = list(Stop.objects.filter(route__plan=plan, route__crew__code="crew-alpha").order_by("sequence"))
    ticket, place = alpha[3].request.ticket, alpha[3].sequence  # the 4th stop: a lock must not move it first
    said = client.post(f"/dispatch/plans/{plan.pk}/pin/", {"ticket": ticket, "action": "lock"}, follow=True)
    assert f"locked to Crew Alpha at stop {place} with the 3 stops before it" in said.content.decode()
    plan.refresh_from_db()
    assert plan.locks == {"crew-alpha": [s.request.ticket for s in alpha[:4]]}
    bad = client.post(f"/dispatch/plans/{plan.pk}/pin/", {"ticket": "NOPE", "action": "lock"}, follow=True)
    assert "is not in plan" in bad.content.decode()
    client.post(
        "/dispatch/run/", {"date": tomorrow(), "department": streets_dept.code, "time_limit": 1, "from_plan": plan.pk}
    )
    rerun = RoutePlan.objects.exclude(pk=plan.pk).get()
    assert rerun.locks == plan.locks
    kept = Stop.objects.get(route__plan=rerun, request__ticket=ticket)
    assert kept.locked and kept.sequence == place and kept.route.crew.code == "crew-alpha"
    page = client.post(f"/dispatch/plans/{rerun.pk}/publish/", follow=True).content.decode()
    assert "published" in page
    stale = client.post(f"/dispatch/plans/{plan.pk}/publish/", follow=True).content.decode()
    assert "Not published" in stale


def test_only_dispatchers_reach_the_dispatcher_page(client, crew_alpha, open_work):
    client.force_login(crew_alpha)
    assert client.get("/dispatch/").status_code == 403
    client.logout()
    assert client.get("/dispatch/").status_code == 302


CREWS_TOML = """
[[depots]]
code = "yard"
name = "Test yard"
lon = 0.5
lat = 0.5

[crew_defaults]
shift = "07:00-15:30"
break = "11:00-13:00/30"

[[crews]]
code = "patch"
name = "Patch crew"
department = "streets"
skills = ["paving"]
depots = ["yard"]
count = 3
"""


def test_crews_load_from_the_assumptions_file_idempotently(streets_dept, tmp_path):
    from routing.crews import load_crews
    from routing.models import Crew

    path = tmp_path / "assumptions.toml"
    path.write_text(CREWS_TOML)
    first = load_crews(path)
    assert (first.depots_created, first.crews_created) == (1, 3)
    again = load_crews(path)
    assert (again.crews_created, again.crews_updated) == (0, 3)
    crew = Crew.objects.get(code="patch-2")
    assert crew.name == "Patch crew 2" and crew.break_minutes == 30 and crew.shift_end == dt.time(15, 30)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (('department = "streets"', 'department = "parks"'), "no department with code 'parks'"),
        (('depots = ["yard"]', 'depots = ["moon"]'), "unknown depot"),
        (('shift = "07:00-15:30"', 'shift = "seven till three"'), "expected 'HH:MM-HH:MM'"),
        (("lat = 0.5", "lat = 95"), "lat must be between -90 and 90"),
    ],
)
def test_a_wrong_crews_file_is_refused_naming_the_entry(streets_dept, tmp_path, change, says):
    from routing.crews import CrewFileError, load_crews
    from routing.models import Crew

    path = tmp_path / "assumptions.toml"
    path.write_text(CREWS_TOML.replace(*change))
    with pytest.raises(CrewFileError, match=says):
        load_crews(path)
    assert Crew.objects.count() == 0


def test_a_job_due_during_the_day_is_planned_to_finish_by_its_due_time(open_work, streets_dept):
    # The rest are due next week, whatever the hour the suite runs at (filed before 8 am, a two-day SLA
    # falls due tomorrow).
    ServiceRequest.objects.update(due_at=at(tomorrow() + dt.timedelta(days=7), 12))
    urgent = open_work["potholes"][3]
    ServiceRequest.objects.filter(pk=urgent.pk).update(due_at=at(tomorrow(), 8, 30))
    late = open_work["potholes"][4]
    ServiceRequest.objects.filter(pk=late.pk).update(due_at=at(tomorrow(), 6, 0))  # overdue before the day starts
    plan = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6)).plan
    stop = Stop.objects.get(route__plan=plan, request=urgent)
    assert stop.eta + dt.timedelta(minutes=stop.service_minutes) <= at(tomorrow(), 8, 30)
    assert stop.window_end is not None
    assert (plan.stats["due_today"], plan.stats["sla_misses"], plan.stats["already_overdue"]) == (1, 0, 1)


def test_a_run_queued_on_a_worker_is_followed_by_the_page_until_it_ends(client, dispatcher, open_work, streets_dept):
    from unittest import mock

    from gis_app.celery import app
    from gis_app.outbox import OutboxJob
    from routing.models import PlanRun
    from routing.planning.day import plan_routes

    client.force_login(dispatcher)
    app.conf.task_always_eager = False  # as in the demo: the task goes to the broker, not inline
    try:
        with mock.patch("routing.planning.day.plan_routes.apply_async") as sent:
            resp = client.post("/dispatch/run/", {"date": tomorrow(), "department": streets_dept.code, "time_limit": 1})
    finally:
        app.conf.task_always_eager = True
    run = PlanRun.objects.get()
    assert sent.called and f"run={run.pk}" in resp["Location"]
    assert OutboxJob.objects.get(task="gis311.plan_routes").published_at is not None
    assert client.get(f"/dispatch/runs/{run.pk}.json").json()["state"] == "queued"
    page = client.get(resp["Location"]).content.decode()
    assert f'data-run="/dispatch/runs/{run.pk}.json"' in page
    plan_routes(str(tomorrow()), streets_dept.code, time_limit=0.25, run_id=run.pk)  # the worker, even before the page
    status = client.get(f"/dispatch/runs/{run.pk}.json").json()
    assert status["state"] == "done" and status["plan"] == RoutePlan.objects.get().pk
    assert f"plan={status['plan']}" in status["page"]


def test_a_run_that_fails_says_why_and_a_day_with_no_crews_says_so(client, dispatcher, open_work, streets_dept):
    from gis_app.models import Holiday
    from routing.models import PlanRun

    Holiday.objects.create(date=tomorrow(), name="Test Day")
    client.force_login(dispatcher)
    page = client.post(
        "/dispatch/run/", {"date": tomorrow(), "department": streets_dept.code, "time_limit": 1}, follow=True
    ).content.decode()
    run = PlanRun.objects.get()
    assert run.state == "failed" and "city holiday (Test Day)" in run.detail
    assert "10 open requests wait" in run.detail and "the next day a crew works is" in run.detail
    assert "Planning failed: " in page and "no crews and no open work" not in page
    status = client.get(f"/dispatch/runs/{run.pk}.json").json()
    assert status["state"] == "failed" and status["detail"] == run.detail


def test_a_lock_that_cannot_hold_is_named_with_its_reason(client, dispatcher, open_work, streets_dept, crews):
    client.force_login(dispatcher)
    client.post("/dispatch/run/", {"date": tomorrow(), "department": streets_dept.code, "time_limit": 1})
    plan = RoutePlan.objects.get()
    first = Stop.objects.filter(route__plan=plan, route__crew__code="crew-alpha").order_by("sequence").first()
    client.post(f"/dispatch/plans/{plan.pk}/pin/", {"ticket": first.request.ticket, "action": "lock"})
    crews["alpha"].workdays = []  # Alpha is off that day after all
    crews["alpha"].save(update_fields=["workdays"])
    resp = client.post(
        "/dispatch/run/", {"date": tomorrow(), "department": streets_dept.code, "time_limit": 1, "from_plan": plan.pk}
    )
    page = client.get(resp["Location"]).content.decode()
    assert f"{first.request.ticket} could not be held on crew-alpha" in page


def test_two_plans_are_compared_crew_by_crew_with_names(client, dispatcher, open_work, streets_dept):
    client.force_login(dispatcher)
    first = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6)).plan
    new = file_request("pothole", on_grid(3, 0.5))
    second = plan_day(tomorrow(), streets_dept, time_limit=0.25, now=at(tomorrow(), 6)).plan
    page = client.get(
        f"/dispatch/?date={tomorrow()}&department={streets_dept.code}&plan={second.pk}&compare={first.pk}"
    ).content.decode()
    assert f"Compared with draft plan #{first.pk}" in page and "Per crew: what moved" in page
    row = page[page.index("<td>Crew Alpha</td>") :].split("</tr>")[0]
    assert new.ticket in row and "6 → 7" in row
    stops = [
        f
        for f in client.get(f"/dispatch/plans/{second.pk}.geojson").json()["features"]
        if f["properties"]["kind"] == "stop"
    ]
    assert {f["properties"]["crew_name"] for f in stops} == {"Crew Alpha", "Crew Bravo"}


def test_on_a_network_that_covers_part_of_the_city_the_rest_is_held_back_with_its_reason(open_work, streets_dept):
    # The grid covers lon/lat 0.500 to 0.508; a pothole in the same ward far to the north-east has no street network.
    from layers.coords import point_from_lonlat

    beyond = file_request("pothole", point_from_lonlat(0.9, 0.9))
    report = plan_day(timezone.localdate(), streets_dept, time_limit=0.25)
    held = {h["ticket"]: h for h in report.plan.dropped}
    assert held[beyond.ticket]["reason"] == "no_network"
    assert "no loaded street network covers this place" in held[beyond.ticket]["detail"]
    planned = set(Stop.objects.filter(route__plan=report.plan).values_list("request__ticket", flat=True))
    assert {r.ticket for r in open_work["potholes"]} <= planned and beyond.ticket not in planned


def test_plan_routes_exits_non_zero_when_a_department_cannot_be_planned(two_square_wards, pothole, yard, crews):
    # No street network is loaded at all: the plan fails, and the command says so with its exit status.
    file_request("pothole", on_grid(1, 1.5))
    with pytest.raises(CommandError, match="no plan for streets"):
        call_command("plan_routes", "--department", "streets", "--time-limit", "1")
