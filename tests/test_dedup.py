"""Spatial deduplication: one issue, many reporters."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from gis_app import dedup
from gis_app.choices import LocatedBy, Status
from gis_app.citydata.dedup_learning import Looked, choose_threshold, figures, learn_parameters, wilson
from gis_app.intake import IntakeData, create_request
from gis_app.models import ServiceRequest
from gis_app.transitions import apply, complete_with_duplicates
from layers.coords import point_from_lonlat

pytestmark = pytest.mark.django_db

LON, LAT = 0.5, 0.5
M = 1 / 111_320  # a metre of latitude, in degrees


def at(metres_north: float = 0.0):  # type: ignore[no-untyped-def]
    return point_from_lonlat(LON, LAT + metres_north * M)


@pytest.fixture
def streetlight_type(two_square_wards, streets_dept):  # type: ignore[no-untyped-def]
    from gis_app.models import ServiceType

    return ServiceType.objects.create(
        code="light",
        name="Street light out",
        department=streets_dept,
        dedup_radius_m=50,
        dedup_window_days=30,
        dedup_threshold=0.6,
    )


@pytest.fixture
def graffiti_type(two_square_wards, streets_dept):  # type: ignore[no-untyped-def]
    from gis_app.models import ServiceType

    return ServiceType.objects.create(
        code="graffiti",
        name="Graffiti",
        department=streets_dept,
        dedup_radius_m=50,
        dedup_window_days=30,
        dedup_threshold=0.6,
    )


def report(code: str, point, *, link: bool = True, **extra):  # type: ignore[no-untyped-def]
    return create_request(
        IntakeData(service_code=code, location=point, **extra), actor_label="test", link_duplicates=link
    )


def test_two_reports_ten_metres_apart_link_and_the_second_reporter_follows(streetlight_type):
    first = report("light", at(0), reporter_email="rosa@example.org", notify_via="email")
    second = report("light", at(10), reporter_email="sam@example.org", notify_via="email")
    assert second.status == Status.DUPLICATE and second.parent == first
    assert sorted(first.subscriptions.values_list("email", flat=True)) == ["rosa@example.org", "sam@example.org"]
    event = second.events.get(verb="mark_duplicate")
    assert event.actor_label == "dedup" and "same type, 10 m" in event.note


def test_reports_400_metres_apart_or_of_different_types_stay_separate(streetlight_type, graffiti_type):
    first = report("light", at(0))
    far = report("light", at(400))
    other = report("graffiti", at(5))
    assert far.parent is None and other.parent is None and first.status == Status.OPEN


def test_candidates_come_ranked_with_score_and_reasons(streetlight_type):
    near = report("light", at(5), link=False, address="100 N MAIN ST", located_by=LocatedBy.ADDRESS)
    farther = report("light", at(40), link=False)
    found = dedup.candidates(streetlight_type, at(0), address="100 n main st.", located_by=LocatedBy.ADDRESS)
    assert [c.ticket for c in found] == [near.ticket, farther.ticket]
    assert found[0].score > found[1].score and "same address" in found[0].reasons
    assert found[0].reasons[0].startswith("same type, 5 m")


def test_two_residents_pins_for_one_pothole_link_where_two_addresses_as_far_apart_do_not(streetlight_type):
    """A threshold learned from a city's geocoded pairs (0.86, as Chicago's) asks an address's precision: two
    addresses 18 m apart are two places. Two residents' pins 18 m apart are one problem each tapped near; each
    pin may be DEDUP_PIN_UNCERTAINTY_M off, so the pair counts that much nearer. A pin's address is only the
    nearest one to it, so it is not compared."""
    streetlight_type.dedup_threshold = 0.86
    streetlight_type.save()
    rosa = report("light", at(0), address="100 N MAIN ST")  # pins, their nearest addresses filled in
    sam = report("light", at(18), address="110 N MAIN ST")
    assert sam.parent == rosa and "same type, 18 m" in sam.events.get(verb="mark_duplicate").note
    first = report("light", at(300), address="300 N MAIN ST", located_by=LocatedBy.ADDRESS)
    second = report("light", at(318), address="310 N MAIN ST", located_by=LocatedBy.ADDRESS)
    assert second.parent is None and first.parent is None
    far = report("light", at(40))  # pins twice the slack apart and more: two places
    assert far.parent is None
    pinned = dedup.candidates(streetlight_type, at(303), located_by=LocatedBy.PIN)  # a pin near an address
    assert [c.ticket for c in pinned][:1] == [first.ticket] and pinned[0].score >= 0.86


def test_a_completed_parent_older_than_the_window_is_not_offered(streetlight_type):
    old = report("light", at(0))
    ServiceRequest.objects.filter(pk=old.pk).update(requested_at=timezone.now() - dt.timedelta(days=40))
    apply(old, "complete", note="relamped")
    recent = report("light", at(0))
    assert recent.parent is None
    # A recently completed one is still offered (a second caller about a light fixed this morning).
    apply(recent, "complete", note="relamped")
    again = dedup.candidates(streetlight_type, at(3))
    assert [c.ticket for c in again] == [recent.ticket] and "completed recently" in again[0].reasons


def test_the_live_lookup_reads_open_and_recently_closed_roots_on_indexes_of_their_own(streetlight_type):
    """Open roots and recently closed roots are read on partial indexes whose status lists match the query's
    (else the planner silently walks every root near a busy point); a long-closed one is not offered, and the
    live answer is the one the evaluation replay (`as_of`) gives for the same moment."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    still_open = report("light", at(0), link=False)
    fixed_today = report("light", at(20), link=False)
    apply(fixed_today, "complete", note="relamped")
    fixed_long_ago = report("light", at(10), link=False)
    apply(fixed_long_ago, "complete", note="relamped")
    ServiceRequest.objects.filter(pk=fixed_long_ago.pk).update(closed_at=timezone.now() - dt.timedelta(days=20))
    with CaptureQueriesContext(connection) as lookup:
        found = dedup.candidates(streetlight_type, at(0))
    assert [c.ticket for c in found] == [still_open.ticket, fixed_today.ticket]
    replayed = dedup.candidates(streetlight_type, at(0), as_of=True)
    assert [c.ticket for c in replayed] == [c.ticket for c in found]
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN " + lookup.captured_queries[-1]["sql"])
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "servicerequest_open_roots_geog" in plan and "servicerequest_done_roots" in plan


def test_unmerge_restores_the_child_as_its_own_open_request(streetlight_type):
    first = report("light", at(0))
    second = report("light", at(10))
    assert second.parent == first
    due = second.due_at
    restored = apply(second, "unmerge", note="different pole", actor_label="dispatcher")
    assert restored.status == Status.OPEN and restored.parent is None and restored.due_at == due


def test_re_parenting_flattens_chains(streetlight_type):
    a = report("light", at(0), link=False)
    b = report("light", at(10), link=False)
    c = report("light", at(20), link=False)
    dedup.mark_duplicate_of(c, b)
    dedup.mark_duplicate_of(b, a)  # b turns out to repeat a: c must now point at a, not at b
    c.refresh_from_db()
    assert c.parent == a and ServiceRequest.objects.filter(parent=b).count() == 0
    assert c.events.filter(verb="reparented").exists()


def test_merging_two_open_issues_moves_reporters_and_children(streetlight_type):
    keep = report("light", at(0), link=False, reporter_email="rosa@example.org", notify_via="email")
    other = report("light", at(30), link=False, reporter_email="sam@example.org", notify_via="email")
    child = report("light", at(32), link=False)
    dedup.mark_duplicate_of(child, other)
    dedup.merge(keep, other)
    other.refresh_from_db()
    child.refresh_from_db()
    assert other.parent == keep and child.parent == keep
    assert {"rosa@example.org", "sam@example.org"} <= set(keep.subscriptions.values_list("email", flat=True))


def test_completing_a_parent_closes_and_notifies_its_children(streetlight_type, django_capture_on_commit_callbacks):
    parent = report("light", at(0), reporter_email="rosa@example.org", notify_via="email")
    report("light", at(8), reporter_email="sam@example.org", notify_via="email")
    linked_open = report("light", at(200), link=False, reporter_email="kim@example.org", notify_via="email")
    ServiceRequest.objects.filter(pk=linked_open.pk).update(parent=parent)  # linked by an import, still open
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        complete_with_duplicates(parent, note="relamped", actor_label="crew")
    linked_open.refresh_from_db()
    assert linked_open.status == Status.COMPLETED
    told = sorted(m.to[0] for m in mail.outbox if "completed" in m.subject)
    assert told == ["kim@example.org", "rosa@example.org", "sam@example.org"]


def test_a_reporter_who_called_twice_counts_once_and_anonymous_calls_count_apart(streetlight_type):
    root = report("light", at(0), reporter_email="Rosa@Example.org")
    report("light", at(5), reporter_email="rosa@example.org")
    report("light", at(6), reporter_phone="(312) 555-0100")
    report("light", at(7), anonymous=True)
    counts = dedup.issue_counts(root)
    assert (counts.raw_requests, counts.reporters, counts.anonymous) == (4, 2, 1)


def test_the_intake_api_links_and_shows_counts_without_contact_data(client, intake_clerk, streetlight_type, settings):
    settings.DEDUP_AUTO_LINK = True
    api = APIClient()
    api.force_authenticate(intake_clerk)
    body = {
        "service_code": "light",
        "lon": LON,
        "lat": LAT,
        "reporter_email": "rosa@example.org",
        "notify_via": "email",
    }
    first = api.post("/api/requests/", body, format="json").json()
    assert first["duplicate_of"] is None and first["candidates"] == []
    second = api.post(
        "/api/requests/",
        {**body, "lat": LAT + 10 * M, "anonymous": True, "reporter_email": "", "notify_via": "none"},
        format="json",
    ).json()
    assert second["duplicate_of"] == first["ticket"] and second["status"] == "duplicate"
    assert second["counts"] == {"raw_requests": 2, "reporters": 1, "anonymous": 1}
    found = api.get("/api/requests/candidates/", {"service_code": "light", "lon": LON, "lat": LAT + 20 * M}).json()
    assert [c["ticket"] for c in found["candidates"]] == [first["ticket"]]
    assert "rosa@example.org" not in str(found)
    bad = api.get("/api/requests/candidates/", {"service_code": "nope", "lon": LON, "lat": LAT})
    assert bad.status_code == 400 and "unknown service type" in bad.json()["detail"]
    outside = api.get("/api/requests/candidates/", {"service_code": "light", "lon": 500, "lat": LAT})
    assert outside.status_code == 400 and "lon must be between" in outside.json()["detail"]
    placing = {"service_code": "light", "lon": LON, "lat": LAT + 20 * M}
    typed = api.get("/api/requests/candidates/", {**placing, "located_by": "address"}).json()["candidates"]
    assert typed[0]["score"] < found["candidates"][0]["score"]  # an address is held to its own precision
    odd = api.get("/api/requests/candidates/", {**placing, "located_by": "telepathy"})
    assert odd.status_code == 400 and "located_by must be one of" in odd.json()["detail"]


def test_a_dedup_run_over_a_range_is_idempotent(streetlight_type, capsys):
    first = report("light", at(0), link=False)
    second = report("light", at(10), link=False)
    report("light", at(400), link=False)
    day = timezone.localdate()
    call_command("dedup_run", "--since", (day - dt.timedelta(days=1)).isoformat())
    assert "1 linked as duplicates" in capsys.readouterr().out
    second.refresh_from_db()
    assert second.parent == first
    events = second.events.count()
    call_command("dedup_run", "--since", (day - dt.timedelta(days=1)).isoformat())
    assert "0 linked" in capsys.readouterr().out and second.events.count() == events


def test_the_near_verb_measures_metres_on_the_ground(streetlight_type):
    near = report("light", at(40), link=False)
    report("light", at(60), link=False)
    assert list(ServiceRequest.objects.open().near(at(0), 50)) == [near]


# ---- evaluation helpers ---------------------------------------------------------------------------------


def test_wilson_interval_and_threshold_choice_follow_their_definitions():
    lo, hi = wilson(45, 50)
    assert 0.78 < lo < 0.79 and 0.95 < hi < 0.96
    C = dedup.Candidate
    looked = [
        Looked(1, 1, 9, [C(9, "P", "open", 1, 1, False, False, 0.9)]),
        Looked(2, 1, None, [C(8, "Q", "open", 60, 1, False, False, 0.4)]),
        Looked(3, 1, 7, [C(7, "R", "open", 20, 1, False, False, 0.6)]),
    ]
    t = choose_threshold(looked, min_precision=0.95)
    f = figures(looked, t)
    assert t == 0.6 and (f.precision, f.recall, f.top1) == (1.0, 1.0, 1.0)


def test_learned_radius_covers_every_labelled_pair(streetlight_type):
    parent = report("light", at(0), link=False)
    children = [report("light", at(m), link=False) for m in (0, 12, 78)]
    for c in children:
        ServiceRequest.objects.filter(pk=c.pk).update(parent=parent)
    learned = learn_parameters(ServiceRequest.objects.filter(parent=parent).select_related("parent"))
    assert learned.pairs == 3 and learned.radius_m == 100 and learned.window_days == 2


def test_staff_attach_a_caller_to_an_issue_at_intake(intake_clerk, streetlight_type):
    issue = report("light", at(0), link=False, reporter_email="rosa@example.org", notify_via="email")
    api = APIClient()
    api.force_authenticate(intake_clerk)
    body = {
        "service_code": "light",
        "lon": LON,
        "lat": LAT + 120 * M,
        "duplicate_of": issue.ticket,
        "reporter_phone": "+13125550100",
        "notify_via": "sms",
    }
    made = api.post("/api/requests/", body, format="json").json()
    assert made["duplicate_of"] == issue.ticket and made["counts"]["reporters"] == 2
    assert issue.subscriptions.filter(phone="+13125550100").exists()
    bad = api.post("/api/requests/", {**body, "duplicate_of": "ZZZZ"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "duplicate_of"
