"""The lifecycle: every allowed and forbidden move, proof on completion, optimistic locking, follow-ups,
the audit trail refusing edits, and who may do what."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import DatabaseError, connection, transaction

from gis_app.choices import Status
from gis_app.intake import IntakeData, create_request, reopen_as_follow_up
from gis_app.models import RequestEvent, ServiceRequest
from gis_app.transitions import MOVES, StaleVersion, TransitionError, apply
from layers.coords import point_from_lonlat

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_pothole(two_square_wards, pothole):  # type: ignore[no-untyped-def]
    return create_request(
        IntakeData(
            service_code="pothole",
            location=point_from_lonlat(0.5, 0.5),
            attributes={"where": "curb"},
            reporter_email="rosa@example.org",
            notify_via="email",
        ),
        actor_label="test",
    )


def force_status(req: ServiceRequest, status: str) -> ServiceRequest:
    ServiceRequest.objects.filter(pk=req.pk).update(status=status)
    req.refresh_from_db()
    return req


# The lifecycle written out by hand: verb -> (the statuses it may start from, where it leads). The test holds
# gis_app.transitions to this table, so a change to MOVES that nobody meant fails here.
LIFECYCLE = {
    "open": ({"received"}, "open"),
    "assign": ({"open", "on_hold"}, "assigned"),
    "unassign": ({"assigned"}, "open"),
    "start": ({"open", "assigned"}, "in_progress"),
    "hold": ({"open", "assigned", "in_progress"}, "on_hold"),
    "resume": ({"on_hold"}, "open"),
    "could_not_complete": ({"assigned", "in_progress"}, "open"),
    "complete": ({"open", "assigned", "in_progress"}, "completed"),
    "close": ({"completed"}, "closed"),
    "reopen": ({"completed"}, "open"),
    "mark_duplicate": ({"received", "open", "assigned", "on_hold"}, "duplicate"),
    "unmerge": ({"duplicate"}, "open"),
    "cancel": ({"received", "open", "assigned", "on_hold"}, "cancelled"),
}
STATUSES = [
    "received",
    "open",
    "assigned",
    "in_progress",
    "on_hold",
    "completed",
    "closed",
    "duplicate",
    "cancelled",
]


def test_the_lifecycle_knows_exactly_these_verbs_and_statuses():
    assert sorted(MOVES) == sorted(LIFECYCLE)
    assert sorted(Status.values) == sorted(STATUSES)


@pytest.mark.parametrize(("verb", "source"), list(itertools.product(sorted(LIFECYCLE), STATUSES)))
def test_each_action_is_allowed_exactly_from_its_statuses(a_pothole, pothole, verb, source):
    req = force_status(a_pothole, source)
    parent = None
    if verb == "mark_duplicate":
        parent = create_request(
            IntakeData(service_code="pothole", location=point_from_lonlat(0.5, 0.5), attributes={"where": "curb"})
        )
    kwargs = {"note": "done and checked", "photos": 1, "parent": parent}
    sources, target = LIFECYCLE[verb]
    if source in sources:
        updated = apply(req, verb, **kwargs)
        assert updated.status == target
        assert updated.version == req.version + 1
        assert RequestEvent.objects.filter(request=req, verb=verb).count() == 1
    else:
        with pytest.raises(TransitionError, match=f"cannot {verb} a request that is {source}; allowed now"):
            apply(req, verb, **kwargs)
        assert ServiceRequest.objects.get(pk=req.pk).status == source


def test_completion_needs_a_note_and_the_photo_its_type_demands(a_pothole):
    with pytest.raises(TransitionError, match="needs proof"):
        apply(a_pothole, "complete")
    with pytest.raises(TransitionError, match="needs a photo"):
        apply(a_pothole, "complete", note="filled with cold patch")
    done = apply(a_pothole, "complete", note="filled with cold patch", photos=1)
    assert done.status == Status.COMPLETED and done.closed_at is not None


def test_could_not_complete_returns_it_to_open_with_the_reason(a_pothole):
    started = apply(a_pothole, "start")
    back = apply(started, "could_not_complete", note="parked car over the hole")
    assert back.status == Status.OPEN
    assert RequestEvent.objects.filter(request=back, verb="could_not_complete").get().note == "parked car over the hole"


def test_a_stale_version_is_refused_and_changes_nothing(a_pothole):
    read_version = a_pothole.version
    apply(a_pothole, "assign", expected_version=read_version)
    with pytest.raises(StaleVersion, match="changed by someone else"):
        apply(a_pothole, "hold", note="waiting", expected_version=read_version)
    assert ServiceRequest.objects.get(pk=a_pothole.pk).status == Status.ASSIGNED


def test_a_duplicate_points_at_the_root_and_its_reporter_follows_the_parent(a_pothole):
    second = create_request(
        IntakeData(
            service_code="pothole",
            location=point_from_lonlat(0.5, 0.5),
            attributes={"where": "curb"},
            reporter_email="sam@example.org",
            notify_via="email",
        )
    )
    third = create_request(
        IntakeData(service_code="pothole", location=point_from_lonlat(0.5, 0.5), attributes={"where": "curb"})
    )
    apply(second, "mark_duplicate", parent=a_pothole)
    dup = apply(third, "mark_duplicate", parent=ServiceRequest.objects.get(pk=second.pk))
    assert dup.parent_id == a_pothole.pk  # no chains
    assert a_pothole.subscriptions.filter(email="sam@example.org").exists()


def test_not_fixed_reopens_as_a_linked_follow_up(a_pothole):
    done = apply(a_pothole, "complete", note="patched", photos=1)
    follow = reopen_as_follow_up(done, note="still a hole")
    assert follow.follow_up_of_id == done.pk and follow.status == Status.OPEN and follow.ticket != done.ticket
    assert RequestEvent.objects.filter(request=done, verb="reported_not_fixed").exists()
    with pytest.raises(TransitionError, match="only a completed or closed request"):
        reopen_as_follow_up(follow)


def test_the_audit_trail_refuses_update_and_delete_in_the_database(a_pothole):
    event = RequestEvent.objects.filter(request=a_pothole).first()
    for sql in (
        "UPDATE gis_app_requestevent SET note = 'rewritten' WHERE id = %s",
        "DELETE FROM gis_app_requestevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [event.pk])
    event.refresh_from_db()
    assert event.note != "rewritten"


# ---- SLA calendar --------------------------------------------------------------------------------

CHI = dt.timezone(dt.timedelta(hours=-6))  # Chicago standard time, for literal instants in winter


def test_business_hours_skip_the_weekend_and_holidays(pothole):
    from gis_app.due_dates import due_at
    from gis_app.models import Holiday

    friday_4pm = dt.datetime(2025, 1, 17, 16, 0, tzinfo=CHI)
    # 16 business hours from Friday 16:00 with 08:00-17:00 days: 1 h Friday, 9 h Monday, 6 h Tuesday.
    assert due_at(pothole, friday_4pm) == dt.datetime(2025, 1, 21, 14, 0, tzinfo=CHI)
    Holiday.objects.create(date=dt.date(2025, 1, 20), name="Martin Luther King Jr. Day")
    assert due_at(pothole, friday_4pm) == dt.datetime(2025, 1, 22, 14, 0, tzinfo=CHI)


def test_a_request_filed_at_night_starts_counting_next_morning(pothole):
    from gis_app.due_dates import due_at

    tuesday_2am = dt.datetime(2025, 1, 14, 2, 0, tzinfo=CHI)
    assert due_at(pothole, tuesday_2am) == dt.datetime(2025, 1, 15, 15, 0, tzinfo=CHI)


def test_storm_mode_extends_due_dates_of_chosen_types_filed_in_its_window(pothole, info_call):
    from gis_app.due_dates import due_at
    from gis_app.models import StormMode

    storm = StormMode.objects.create(
        name="Blizzard",
        starts_at=dt.datetime(2025, 1, 13, tzinfo=CHI),
        ends_at=dt.datetime(2025, 1, 16, tzinfo=CHI),
        extension_hours=48,
    )
    storm.service_types.add(pothole)
    monday = dt.datetime(2025, 1, 13, 9, 0, tzinfo=CHI)
    assert due_at(pothole, monday) == dt.datetime(2025, 1, 14, 16, 0, tzinfo=CHI) + dt.timedelta(hours=48)
    assert due_at(pothole, dt.datetime(2025, 1, 20, 9, 0, tzinfo=CHI)) == dt.datetime(2025, 1, 21, 16, 0, tzinfo=CHI)
    assert due_at(info_call, monday) == monday  # not a storm type


# ---- roles ------------------------------------------------------------------------------------------


def test_a_council_member_reads_but_cannot_act(client, alderman_ward_2, a_pothole):
    client.force_login(alderman_ward_2)
    detail = client.get(f"/api/requests/{a_pothole.ticket}/")
    assert detail.status_code == 200
    assert "reporter_email" not in detail.json()
    response = client.post(
        f"/api/requests/{a_pothole.ticket}/actions/",
        {"action": "assign", "version": a_pothole.version},
        content_type="application/json",
    )
    assert response.status_code == 403


def test_a_crew_member_never_sees_reporter_contact(client, crew_alpha, a_pothole):
    client.force_login(crew_alpha)
    data = client.get(f"/api/requests/{a_pothole.ticket}/").json()
    assert "reporter_email" not in data and "rosa@example.org" not in str(data)


def test_staff_reads_of_contact_data_are_logged(client, dispatcher, a_pothole):
    client.force_login(dispatcher)
    data = client.get(f"/api/requests/{a_pothole.ticket}/").json()
    assert data["reporter_email"] == "rosa@example.org"
    viewed = RequestEvent.objects.get(request=a_pothole, verb="contact_viewed")
    assert viewed.actor == dispatcher and viewed.public is False


def test_a_dispatcher_moves_a_request_and_a_stale_version_gets_409(client, dispatcher, a_pothole):
    client.force_login(dispatcher)
    url = f"/api/requests/{a_pothole.ticket}/actions/"
    ok = client.post(url, {"action": "assign", "version": a_pothole.version}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["status"] == "assigned"
    stale = client.post(
        url, {"action": "hold", "note": "x", "version": a_pothole.version}, content_type="application/json"
    )
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]
    wrong = client.post(url, {"action": "close", "version": a_pothole.version + 1}, content_type="application/json")
    assert wrong.status_code == 400 and "allowed now" in wrong.json()["detail"]
    typo = client.get("/api/requests/" + a_pothole.ticket[:-1] + ("2" if a_pothole.ticket[-1] != "2" else "3") + "/")
    assert typo.status_code == 400 and "does not check out" in typo.json()["detail"]


def test_relocating_a_request_re_decides_ward_and_department(a_pothole, pothole):
    from gis_app.models import Department, DepartmentRule
    from gis_app.transitions import relocate

    contractor = Department.objects.create(code="ward2-contract", name="Ward 2 contractor")
    DepartmentRule.objects.create(service_type=pothole, ward_number=2, department=contractor)
    moved = relocate(a_pothole, point_from_lonlat(1.5, 0.5), address="1500 E Test Ave")
    assert (moved.ward_number, moved.department.code) == (2, "ward2-contract")
    event = RequestEvent.objects.get(request=moved, verb="relocated")
    assert event.old["department"] == "streets" and event.new["department"] == "ward2-contract"
    with pytest.raises(TransitionError, match="outside the city"):
        relocate(moved, point_from_lonlat(9, 9))


def test_changing_the_type_re_decides_department_and_due_date(a_pothole, streets_dept):
    from gis_app.models import Department, ServiceType
    from gis_app.transitions import change_type

    forestry = Department.objects.create(code="forestry", name="Forestry")
    tree = ServiceType.objects.create(
        code="tree", name="Tree trim", department=forestry, sla_kind="calendar_days", sla_amount=30
    )
    changed = change_type(a_pothole, tree)
    assert changed.department == forestry
    assert changed.due_at == changed.requested_at + dt.timedelta(days=30)
    assert RequestEvent.objects.get(request=changed, verb="type_changed").old["service_code"] == "pothole"


def test_declaring_a_storm_extends_open_requests_filed_in_it_and_audits_each(a_pothole, pothole):
    from django.utils import timezone

    from gis_app.sla_alerts import declare_storm

    before = a_pothole.due_at
    declare_storm(
        "Snow emergency",
        [pothole],
        a_pothole.requested_at - dt.timedelta(hours=1),
        timezone.now() + dt.timedelta(days=1),
        24,
    )
    a_pothole.refresh_from_db()
    assert a_pothole.due_at == before + dt.timedelta(hours=24)
    event = RequestEvent.objects.get(request=a_pothole, verb="due_date_extended")
    assert event.note == "storm mode: Snow emergency" and event.actor_label == "storm mode"


@pytest.mark.parametrize(
    ("actor", "can_file", "can_act"),
    [
        ("intake_clerk", True, False),
        ("dispatcher", False, True),
        ("crew_alpha", False, False),
        ("alderman_ward_2", False, False),
    ],
)
def test_each_role_files_and_acts_only_as_it_may(request, client, a_pothole, actor, can_file, can_act):
    client.force_login(request.getfixturevalue(actor))
    filed = client.post(
        "/api/requests/",
        {"service_code": "pothole", "lon": "0.5", "lat": "0.5", "attributes": {"where": "curb"}},
        content_type="application/json",
    )
    assert (filed.status_code == 201) is can_file
    acted = client.post(
        f"/api/requests/{a_pothole.ticket}/actions/",
        {"action": "assign", "version": a_pothole.version},
        content_type="application/json",
    )
    assert (acted.status_code == 200) is can_act
