"""Query-count guards: each list or map endpoint costs the same number of queries however many rows it shows,
so an N+1 regression fails here (NetBox's habit). Each test measures a small and a larger case."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gis_app.dedup import mark_duplicate_of
from gis_app.intake import IntakeData, create_request
from layers.coords import point_from_lonlat
from routing.models import RoutePlan
from routing.planning import plan_day
from tests.conftest import file_request, on_grid

pytestmark = pytest.mark.django_db


def tomorrow() -> dt.date:
    """Read at each use, not at import: a run that crosses the city's midnight keeps its dates true."""
    return timezone.localdate() + dt.timedelta(days=1)


def queries(client, url: str) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


def a_pothole(lon: float = 0.5, lat: float = 0.5):  # type: ignore[no-untyped-def]
    return create_request(
        IntakeData(
            service_code="pothole",
            location=point_from_lonlat(lon, lat),
            attributes={"where": "curb"},
            reporter_email="caller@example.org",
            notify_via="email",
        )
    )


def test_a_request_detail_costs_the_same_with_one_duplicate_or_five(client, dispatcher, two_square_wards, pothole):
    client.force_login(dispatcher)
    issue = a_pothole()
    mark_duplicate_of(a_pothole(0.5001, 0.5), issue)
    queries(client, f"/api/requests/{issue.ticket}/")  # a warm process: what it remembers is loaded
    few = queries(client, f"/api/requests/{issue.ticket}/")
    for i in range(4):
        mark_duplicate_of(a_pothole(0.5, 0.5001 + i / 10_000), issue)
    assert queries(client, f"/api/requests/{issue.ticket}/") == few <= 12


def test_the_open_requests_map_feed_costs_the_same_for_two_rows_or_twenty(client, two_square_wards, pothole):
    url = "/requests/open.geojson?bbox=0,0,2,1"
    for i in range(2):
        a_pothole(0.1 + i / 10, 0.5)
    few = queries(client, url)
    for i in range(18):
        a_pothole(1.05 + i / 20, 0.5)
    assert queries(client, url) == few <= 3


def test_the_dispatcher_page_and_its_route_map_cost_the_same_for_a_small_or_larger_plan(
    client, dispatcher, open_work, streets_dept
):
    client.force_login(dispatcher)
    small = plan_day(tomorrow(), streets_dept, time_limit=0.25).plan
    page = f"/dispatch/?date={tomorrow()}&department={streets_dept.code}&plan={small.pk}"
    few_page, few_map = queries(client, page), queries(client, f"/dispatch/plans/{small.pk}.geojson")
    for i, j in [(0.5, 0.5), (1.5, 2.5), (2.5, 1.5), (3.5, 3.5), (0.5, 3.5), (4, 0.5)]:
        file_request("pothole", on_grid(i, j))
    larger = plan_day(tomorrow(), streets_dept, time_limit=0.25).plan
    assert larger.stats["jobs_planned"] > small.stats["jobs_planned"]
    page = f"/dispatch/?date={tomorrow()}&department={streets_dept.code}&plan={larger.pk}"
    assert queries(client, page) == few_page <= 25
    # 9: one of them is two-factor sign-in asking whether the signed-in user has an authenticator.
    assert queries(client, f"/dispatch/plans/{larger.pk}.geojson") == few_map <= 9
    assert RoutePlan.objects.count() == 2
