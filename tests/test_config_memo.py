"""Configuration remembered per process (layers.memo): intake stops asking PostgreSQL for rows that change a few
times a year, and a change still reaches the next report, here at once and elsewhere through the shared
generation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from gis_app.due_dates import BusinessCalendar
from gis_app.models import Department, DepartmentRule, Holiday, ServiceRequest, ServiceType
from layers import memo

pytestmark = pytest.mark.django_db

URL = "/api/requests/"


def report(client, **over):  # type: ignore[no-untyped-def]
    data = {
        "service_code": "pothole",
        "lon": "1.5",
        "lat": "0.5",
        "description": "Hole in the lane",
        "attributes": {"where": "lane"},
        "channel": "phone",
        **over,
    }
    response = client.post(URL, data, content_type="application/json")
    assert response.status_code == 201, response.content
    return ServiceRequest.objects.get(ticket=response.json()["ticket"])


def test_a_rule_added_after_a_report_routes_the_next_report(client, intake_clerk, two_square_wards, pothole):
    client.force_login(intake_clerk)
    assert report(client).department.code == "streets"  # the rules are now remembered in this process
    contractor = Department.objects.create(code="ward2-contract", name="Ward 2 contractor")
    DepartmentRule.objects.create(service_type=pothole, ward_number=2, department=contractor)
    assert report(client).department == contractor


def test_a_holiday_declared_after_a_report_moves_the_next_due_date(client, intake_clerk, two_square_wards, pothole):
    """The snow day is the next business day after today: inside any report's window from now (intake dates a
    report from the moment it is filed), whatever day the suite runs."""
    client.force_login(intake_clerk)
    before = report(client).due_at
    calendar = BusinessCalendar.from_settings()
    snow_day = timezone.localdate() + dt.timedelta(days=1)
    while not calendar.is_business_day(snow_day):
        snow_day += dt.timedelta(days=1)
    Holiday.objects.create(date=snow_day, name="Snow day")
    after = report(client).due_at
    assert before is not None and after is not None and after > before


def test_a_change_made_by_another_process_arrives_with_the_shared_generation(two_square_wards, pothole, settings):
    settings.CONFIG_MEMO_CHECK_SECONDS = 0
    assert ServiceType.objects.active_by_code("pothole").name == "Pothole in street"
    # Another machine renames the type: its bump reaches us through the shared cache, not a signal here.
    ServiceType.objects.filter(pk=pothole.pk).update(name="Pothole (roadway)")
    assert ServiceType.objects.active_by_code("pothole").name == "Pothole in street"  # still this process's copy
    cache.incr(memo.KEY)
    assert ServiceType.objects.active_by_code("pothole").name == "Pothole (roadway)"


def test_a_deactivated_type_is_refused_at_once(client, intake_clerk, two_square_wards, pothole):
    client.force_login(intake_clerk)
    report(client)
    pothole.active = False
    pothole.save()
    body = {"service_code": "pothole", "lon": "1.5", "lat": "0.5"}
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert "unknown service type 'pothole'" in response.content.decode()


class Away:
    def get(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("cache is away")

    add = incr = get


def test_with_the_shared_cache_away_every_read_goes_to_postgresql(
    two_square_wards, pothole, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(memo, "cache", Away())
    memo.forget()
    with django_assert_num_queries(2):  # the types and their questions, read again each time
        ServiceType.objects.active_by_code("pothole")
    with django_assert_num_queries(2):
        assert ServiceType.objects.active_by_code("pothole") is not None


def test_a_warm_process_asks_postgresql_for_no_configuration(two_square_wards, pothole, django_assert_num_queries):
    ServiceType.objects.active_by_code("pothole")
    with django_assert_num_queries(0):
        assert ServiceType.objects.active_by_code("pothole").attributes.all()[0].code == "where"
        assert ServiceType.objects.active_by_code("no-such-type") is None


def test_with_the_shared_cache_away_it_is_asked_once_a_second_not_on_every_read(two_square_wards, pothole, monkeypatch):
    asked = []

    class Slow(Away):
        def get(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            asked.append(1)  # a real client waits out its connect timeout here
            raise ConnectionError("cache is away")

        add = incr = get

    monkeypatch.setattr(memo, "cache", Slow())
    memo.forget()
    for _ in range(5):
        assert ServiceType.objects.active_by_code("pothole") is not None
    assert len(asked) == 1
