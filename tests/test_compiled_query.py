"""A queryset compiled once and run with other values (gis_app.compiled_query): the same rows as the ORM, JSON
decoded, and no compiling after the first run. Actors: Paula files potholes, one of them closed."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import Point
from django.db.models.sql.compiler import SQLCompiler

from gis_app.compiled_query import CompiledOnce
from gis_app.models import ServiceRequest
from tests.conftest import file_request

pytestmark = pytest.mark.django_db


def by_type_and_status(type_id, status):  # type: ignore[no-untyped-def]
    return (
        ServiceRequest.objects.filter(service_type=type_id, status=status)
        .order_by("pk")
        .values("ticket", "attributes", "requested_at")
    )


def test_rows_are_what_the_queryset_gives_for_each_set_of_values_and_it_compiles_once(
    two_square_wards, pothole, monkeypatch
):
    first = file_request("pothole", Point(0.5, 0.5, srid=4326))
    file_request("pothole", Point(1.5, 0.5, srid=4326))
    ServiceRequest.objects.filter(pk=first.pk).update(status="closed")
    compiles = []
    real = SQLCompiler.as_sql
    monkeypatch.setattr(SQLCompiler, "as_sql", lambda self, *a, **k: compiles.append(1) or real(self, *a, **k))
    query = CompiledOnce(by_type_and_status, -1, "no such status")
    for status in ("open", "closed", "open", "acknowledged"):
        before = len(compiles)
        expected = list(by_type_and_status(pothole.pk, status))  # the ORM compiles this one
        assert len(compiles) == before + 1
        assert query.rows(pothole.pk, status) == expected
    assert len(compiles) == 4 + 1  # the four ORM runs, and this query's one compile
    rows = query.rows(pothole.pk, "closed")
    assert [r["ticket"] for r in rows] == [first.ticket]
    assert rows[0]["attributes"] == {"where": "curb"}  # JSON decoded as the ORM decodes it


def test_a_queryset_that_does_not_use_a_sentinel_is_refused():
    query = CompiledOnce(lambda type_id: ServiceRequest.objects.filter(status="open").values("ticket"), -1)
    with pytest.raises(AssertionError):
        query.rows(3)
