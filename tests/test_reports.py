"""Standard reports and the council ward figures (issue 22), on a literal little city whose answers are known
by hand, and against an independent computation in plain Python over the same rows.

The city: ward 1 (west square) and ward 2 (east square); potholes and lights (Streets), a sensitive type.
Actors: Cora, the council member for ward 2; Mo, a manager; Pat, a planner; Ivy, an intake clerk."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import statistics

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from field_api.reports.figures import (
    AGE_BUCKETS,
    ReportFilters,
    ReportInputError,
    breakdown,
    parse_report_filters,
    ward_map,
)
from field_api.reports.models import CouncilSeat
from gis_app.models import RequestEvent, ServiceRequest, ServiceType, SurveyAnswer
from gis_app.roles import ensure_roles
from gis_app.tickets import new_ticket
from layers.coords import point_from_lonlat

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
WEST, EAST = (0.5, 0.5), (1.5, 0.5)
# A script or stylesheet fetched from another host (a link in Leaflet's attribution text is not a load).
LOADS_FROM_ELSEWHERE = r"""<(script|link)[^>]+(src|href)=["']?(https?:)?//"""


def person(name: str, role: str):  # type: ignore[no-untyped-def]
    ensure_roles()
    user = get_user_model().objects.create_user(name, password="pw-for-tests-only")
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def cora(db):  # type: ignore[no-untyped-def]
    user = person("cora", "council member")
    CouncilSeat.objects.create(user=user, ward_number=2)
    return user


@pytest.fixture
def little_history(two_square_wards, pothole, streetlight, streets_dept):  # type: ignore[no-untyped-def]
    """Eight requests with known times. `now` is fixed for the test: ages and overdue follow from it."""
    now = timezone.now().replace(microsecond=0)
    ServiceType.objects.create(code="abuse", name="Elder abuse", department=streets_dept, sensitive=True)

    def made(code, where, ago, *, status="open", closed_after=None, due_after=None, **extra):  # type: ignore[no-untyped-def]
        at = now - ago * DAY
        return ServiceRequest.objects.create(
            ticket=new_ticket(),
            service_type=ServiceType.objects.get(code=code),
            department=streets_dept,
            status=status,
            location=point_from_lonlat(*where),
            ward_number=1 if where == WEST else 2,
            requested_at=at,
            closed_at=at + closed_after * DAY if closed_after is not None else None,
            due_at=at + due_after * DAY if due_after is not None else None,
            **extra,
        )

    a = made("pothole", WEST, 10, status="completed", closed_after=2, due_after=3, reporter_email="a@x.test")
    b = made("pothole", WEST, 9, status="closed", closed_after=5, due_after=3, reporter_email="A@X.test")
    c = made("pothole", WEST, 8, due_after=3)
    d = made("pothole", WEST, 7, status="duplicate", parent=c, reporter_phone="312-555-0100")
    e = made("light", EAST, 6, due_after=10)
    f = made("light", EAST, 5, status="completed", closed_after=1, due_after=2)
    g = made("light", EAST, 4, status="cancelled", closed_after=1)
    h = made("abuse", EAST, 3, reporter_email="victim@x.test", description="call 312-555-0199")
    done = RequestEvent.objects.create(request=f, verb="complete", new={"status": "completed"})
    SurveyAnswer.objects.create(request=f, completion=done, fixed=True)
    return {"now": now, "rows": dict(zip("abcdefgh", [a, b, c, d, e, f, g, h], strict=True))}


def reference(requests: list[ServiceRequest], now: dt.datetime) -> dict[str, object]:
    """The same figures computed independently, row by row in Python (the definitions in figures.py)."""
    unique = [r for r in requests if r.parent_id is None and r.status != "duplicate"]
    open_ = [r for r in unique if r.status in ("received", "open", "assigned", "in_progress", "on_hold")]
    closed = [r for r in unique if r.status in ("completed", "closed") and r.closed_at]
    days = [(r.closed_at - r.requested_at).total_seconds() / 86400 for r in closed]
    met = [r for r in closed if r.due_at and r.closed_at <= r.due_at]
    missed = [r for r in closed if r.due_at and r.closed_at > r.due_at] + [
        r for r in open_ if r.due_at and r.due_at < now
    ]
    ages = [(now - r.requested_at).total_seconds() / 86400 for r in open_]
    edges = [lo for lo, _, _ in AGE_BUCKETS] + [AGE_BUCKETS[-1][1], float("inf")]
    written = [r.reporter_email or r.reporter_phone for r in requests]
    contacts = {c.lower() for c in written if c}
    answers = [a for r in requests for a in r.survey_answers.all()]
    return {
        "raw": len(requests),
        "issues": len(unique),
        "reporters": len(contacts),
        "open": len(open_),
        "closed": len(closed),
        "avg_days": round(sum(days) / len(days), 1) if days else None,
        "median_days": round(statistics.median(days), 1) if days else None,
        "sla_met": len(met),
        "sla_missed": len(missed),
        "overdue": sum(1 for r in open_ if r.due_at and r.due_at < now),
        "median_age": round(statistics.median(ages), 1) if ages else None,
        "ages": [sum(1 for a in ages if edges[i] <= a < edges[i + 1]) for i in range(len(edges) - 1)],
        "answers": len(answers),
        "fixed_yes": sum(1 for a in answers if a.fixed),
    }


def _frozen(monkeypatch, now):  # type: ignore[no-untyped-def]
    monkeypatch.setattr("field_api.reports.figures.timezone.now", lambda: now)


def test_the_city_totals_are_the_ones_worked_out_by_hand(little_history, monkeypatch):
    _frozen(monkeypatch, little_history["now"])
    t = breakdown(ReportFilters(), "department")["total"]
    # d is a duplicate; a and b wrote the same address (case aside), d and h each one of their own
    assert (t["raw"], t["issues"], t["reporters"]) == (8, 7, 3)
    assert (t["open"], t["closed"]) == (3, 3)  # c, e, h open; a, b, f closed; g cancelled is neither
    assert (t["avg_days"], t["median_days"]) == (2.7, 2.0)  # 2, 5 and 1 days
    assert (t["sla_met"], t["sla_missed"], t["sla_compliance"], t["flagged"]) == (2, 2, 0.5, True)
    assert (t["overdue"], t["median_age"], t["ages"]) == (1, 6.0, [0, 2, 1, 0, 0])  # ages 8, 6 and 3 days
    assert (t["answers"], t["satisfaction"]) == (1, 1.0)


@pytest.mark.parametrize("by", ["department", "ward", "type", "week"])
@pytest.mark.parametrize("status", ["all", "open", "closed"])
def test_every_breakdown_matches_an_independent_count(little_history, monkeypatch, by, status):
    now = little_history["now"]
    _frozen(monkeypatch, now)
    table = breakdown(ReportFilters(status=status), by)
    rows = list(ServiceRequest.objects.select_related("service_type", "department").prefetch_related("survey_answers"))
    if status == "open":
        rows = [r for r in rows if r.is_open]
    elif status == "closed":
        rows = [r for r in rows if r.status in ("completed", "closed")]

    def key(r: ServiceRequest) -> object:
        if by == "week":
            local = timezone.localtime(r.requested_at).date()
            return (local - dt.timedelta(days=local.weekday())).isoformat()
        code = "_sensitive" if r.service_type.sensitive else r.service_type.code  # counted together, unnamed
        return {"department": r.department.code, "ward": r.ward_number, "type": code}[by]

    groups: dict[object, list[ServiceRequest]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    assert {row["key"] for row in table["rows"]} == set(groups)
    for row in [*table["rows"], table["total"]]:
        expected = reference(groups[row["key"]] if row["label"] != "All" else rows, now)
        assert {k: row[k] for k in expected} == expected, row["label"]


def test_the_ward_map_counts_each_ward_and_lists_empty_ones(little_history, monkeypatch):
    _frozen(monkeypatch, little_history["now"])
    wards = {w["ward"]: w for w in ward_map(ReportFilters())["wards"]}
    assert set(wards) == {1, 2}
    one, two = wards[1], wards[2]
    assert (one["filed"], one["open"], one["overdue"], one["median_age"]) == (4, 1, 1, 8.0)
    assert (two["filed"], two["open"], two["overdue"], two["median_age"]) == (4, 2, 0, 4.5)
    assert one["km2"] == pytest.approx(12364, rel=0.01)  # a 1° square at the equator
    assert one["open_per_km2"] == round(1 / one["km2"], 2) and two["overdue_share"] == 0.0
    only_lights = {w["ward"]: w for w in ward_map(ReportFilters(types=("light",)))["wards"]}
    assert only_lights[1]["filed"] == 0 and only_lights[1]["median_age"] is None  # listed, with nothing


def test_filters_that_cannot_be_used_say_what_was_expected(little_history):
    for query, words in [
        ({"type": "nope"}, "unknown service type"),
        ({"type": "abuse"}, "unknown service type"),  # a sensitive type is not a filter
        ({"department": "parks"}, "no department"),
        ({"status": "lost"}, "all, open or closed"),
        ({"start": "2026-13-01"}, "YYYY-MM-DD"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "on or after"),
        ({"ward": "two"}, "ward must be a number"),
    ]:
        with pytest.raises(ReportInputError, match=words):
            parse_report_filters(query)
    with pytest.raises(ReportInputError, match="by must be one of"):
        breakdown(ReportFilters(), "colour")


def test_the_query_count_does_not_grow_with_wards_or_requests(little_history, cora, pothole):
    client = Client()
    client.force_login(cora)
    counts = []
    for extra in (0, 30):
        for i in range(extra):
            ServiceRequest.objects.create(ticket=new_ticket(), service_type=pothole, department=pothole.department,
                                          location=point_from_lonlat(1.2 + i / 100, 0.4), ward_number=2)  # fmt: skip
        for path in ["/council/wards.json", "/council/wards/1/", "/council/wards/2/", "/reports/?by=ward"]:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(path).status_code == 200
            counts.append((path, len(ctx.captured_queries)))
    first, second = counts[:4], counts[4:]
    assert first == second
    assert dict(first)["/council/wards/1/"] == dict(first)["/council/wards/2/"]


# ---- who may see what ----------------------------------------------------------------------------------------


PAGES = ["/council/", "/council/wards.json", "/council/wards/2/", "/council/wards/2/map.html", "/reports/",
         "/reports/table.csv?by=type", "/reports/wards-map.html", "/reports/weekly/"]  # fmt: skip


@pytest.mark.parametrize("role", ["council member", "manager", "planner", "administrator"])
def test_council_managers_and_planners_read_every_page(little_history, role):
    client = Client()
    client.force_login(person(f"someone-{role}".replace(" ", "-"), role))
    for path in PAGES:
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("role", ["intake clerk", "dispatcher", "crew member"])
def test_other_staff_are_refused_in_words(little_history, role):
    client = Client()
    client.force_login(person(f"staff-{role}".replace(" ", "-"), role))
    for path in PAGES:
        resp = client.get(path)
        assert resp.status_code == 403, path
        assert b"council members, managers and planners" in resp.content


def test_the_public_is_sent_to_sign_in(little_history):
    for path in PAGES:
        resp = Client().get(path)
        assert resp.status_code == 302 and resp["Location"].startswith("/accounts/login/"), path


def test_a_council_member_sees_no_contact_data_and_no_sensitive_request(little_history, cora):
    client = Client()
    client.force_login(cora)
    rows = little_history["rows"]
    page = client.get("/council/wards/2/").content.decode()
    assert rows["e"].ticket in page and rows["f"].ticket in page
    assert rows["h"].ticket not in page and "Elder abuse" not in page  # counted, never itemised
    assert "1 request(s) of sensitive types are counted above but not listed" in page
    west = client.get("/council/wards/1/").content.decode()
    for secret in ["a@x.test", "A@X.test", "312-555-0100", "victim@x.test", "312-555-0199"]:
        assert secret not in page and secret not in west
    assert "(your ward)" in page and "(your ward)" not in west


def test_the_pages_say_the_citys_own_word_for_its_districts(little_history, cora, settings):
    """San Francisco's districts are the Board of Supervisors': its pages never call them wards."""
    settings.CITY_DISTRICT_WORD, settings.CITY_DISTRICTS_WORD = "supervisor district", "supervisor districts"
    client = Client()
    client.force_login(cora)
    council = client.get("/council/").content.decode()
    assert "Supervisor district map" in council and "Shade supervisor districts by" in council
    assert 'data-district="supervisor district"' in council  # the pages' scripts read the word from here
    own = client.get("/council/wards/2/").content.decode()
    assert "Supervisor district 2" in own and "(your supervisor district)" in own
    for page in (council, own, client.get("/reports/weekly/").content.decode()):
        assert not re.search(r">\s*Wards?\b", page)  # no "Ward" left in visible text
    printed = client.get("/council/wards/2/map.html").content.decode()
    assert "Supervisor district 2: 311 requests" in printed
    from layers.models import Ward

    Ward.objects.filter(number=2).update(code="District 2B")  # a map whose districts are codes
    assert "Supervisor district District 2B" in client.get("/council/wards/2/").content.decode()
    table = client.get("/reports/?by=ward").content.decode()
    assert "supervisor district District 2B" in table
    assert "Supervisor district District 2B: 311 requests" in client.get("/council/wards/2/map.html").content.decode()


def test_the_reports_pages_change_nothing(little_history, cora):
    client = Client()
    client.force_login(cora)
    before = list(ServiceRequest.objects.order_by("pk").values_list("pk", "status", "version"))
    for path in PAGES:
        assert client.post(path, {"status": "closed"}).status_code == 405, path
    assert list(ServiceRequest.objects.order_by("pk").values_list("pk", "status", "version")) == before
    html = client.get("/council/wards/2/").content.decode()
    assert 'method="post"' not in html.replace('action="/accounts/logout/"', "").split("</nav>", 1)[1]


# ---- downloads -----------------------------------------------------------------------------------------------


def test_the_csv_carries_the_table_the_page_prints(little_history, cora, monkeypatch):
    _frozen(monkeypatch, little_history["now"])
    client = Client()
    client.force_login(cora)
    start = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    body = client.get(f"/reports/table.csv?by=ward&start={start}").content.decode()
    table = list(csv.DictReader(io.StringIO(body)))
    assert [r["group"] for r in table] == ["ward 1", "ward 2", "All"]
    assert table[-1]["raw requests"] == "8" and table[-1]["SLA compliance"] == "0.5"
    assert table[0]["median days to close"] == "3.5" and table[1]["share saying fixed"] == "1.0"
    page = client.get(f"/reports/?by=ward&start={start}").content.decode()
    assert '<td class="flag">0.5 ⚑</td>' in page


def test_the_ward_map_file_opens_with_no_internet(little_history, cora):
    client = Client()
    client.force_login(cora)
    html = client.get("/council/wards/2/map.html").content.decode()
    assert little_history["rows"]["e"].ticket in html
    assert not re.search(LOADS_FROM_ELSEWHERE, html)
    assert "L.map(" in html or "L.map (" in html  # Leaflet is inlined, not linked
    every = client.get("/reports/wards-map.html").content.decode()
    assert "Open per km" in every and not re.search(LOADS_FROM_ELSEWHERE, every)


def test_the_demo_council_member_sits_for_the_busiest_ward(little_history, settings, tmp_path, monkeypatch):
    from django.core.management import CommandError, call_command

    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "pw-demo")
    out = io.StringIO()
    call_command("demo_council", stdout=out)
    assert "(ward 2)" in out.getvalue()  # e and h are open in ward 2, c alone in ward 1
    assert CouncilSeat.objects.get(user__username="council").ward_number == 2
    call_command("demo_council", "--ward", "1", stdout=out)  # again: the same member, moved
    assert CouncilSeat.objects.get(user__username="council").ward_number == 1
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD")
    settings.BASE_DIR = tmp_path
    with pytest.raises(CommandError, match="demo_admin"):
        call_command("demo_council")
