"""The read-replica router (issue 25): the council, report and planner pages read from `replica` when one is
configured; intake, dispatch, the crew API and every write stay on the primary. Actors: Cora, a council
member; Rosa's app."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from gis_app.db_router import ReplicaForReading, ReplicaRouter, reading_alias
from gis_app.models import ServiceRequest
from tests.test_faults import run_scenario
from tests.test_reports import person

ROUTER = ReplicaRouter()


def routed(settings, method: str, path: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(where a read goes, where a write goes) while the middleware serves method + path."""
    seen: dict[str, str] = {}

    def view(request):  # type: ignore[no-untyped-def]
        seen["read"] = ROUTER.db_for_read(ServiceRequest)
        seen["write"] = ROUTER.db_for_write(ServiceRequest)
        seen["raw"] = reading_alias()
        return HttpResponse()

    ReplicaForReading(view)(getattr(RequestFactory(), method)(path))
    assert seen["raw"] == seen["read"]  # the reports' raw SQL goes where the ORM's reads go
    return seen["read"], seen["write"]


def test_reading_pages_read_from_the_replica_and_everything_else_from_the_primary(settings, monkeypatch):
    monkeypatch.setitem(settings.DATABASES, "replica", dict(settings.DATABASES["default"]))
    for path in ["/council/", "/council/wards/3/", "/reports/?by=ward", "/planner/runs/1/"]:
        assert routed(settings, "get", path) == ("replica", "default"), path
    for method, path in [
        ("post", "/planner/runs/"),
        ("get", "/intake/"),
        ("get", "/api/crew/route/"),
        ("post", "/open311/v2/requests.json"),
        ("get", "/dispatch/"),
    ]:
        assert routed(settings, method, path) == ("default", "default"), path
    assert ROUTER.db_for_read(ServiceRequest) == "default"  # outside any request
    assert ROUTER.allow_migrate("replica", "gis_app") is False and ROUTER.allow_migrate("default", "gis_app")


def test_with_no_replica_configured_everything_reads_the_primary(settings):
    assert "replica" not in settings.DATABASES
    assert routed(settings, "get", "/reports/") == ("default", "default")


SCENARIO = r"""
import json, django
django.setup()
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.contrib.auth import get_user_model
c = Client()
c.force_login(get_user_model().objects.get(username="cora"))
with CaptureQueriesContext(connections["replica"]) as replica, CaptureQueriesContext(connections["default"]) as primary:
    status = c.get("/reports/?by=ward").status_code
report = {"status": status, "replica": len(replica.captured_queries),
          "primary": [q["sql"][:60] for q in primary.captured_queries]}
print(json.dumps(report))
"""


@pytest.mark.django_db(transaction=True)
def test_a_reports_page_runs_its_queries_on_the_replica(two_square_wards, pothole):
    person("cora", "council member")
    from django.db import connection

    db = connection.settings_dict
    replica = f"postgis://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    report = run_scenario(SCENARIO, DATABASE_REPLICA_URL=replica)
    assert report["status"] == 200 and report["replica"] >= 3
    # The primary answers only for the session and the signed-in user (auth reads before the page).
    assert all("django_session" in q or "auth_" in q or "reports_councilseat" in q for q in report["primary"]), report
