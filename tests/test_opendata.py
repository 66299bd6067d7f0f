# ruff: noqa: F811  (the day fixture is imported from the privacy walk and named as a test argument)
"""Open data: the city's requests as CSV and GeoJSON for a data portal, streamed, or written by the worker when
large; nothing personal, sensitive types dropped, private types to the block; the same by command line."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client

from field_api.models import DataExport
from gis_app.opendata import FIELDS
from tests.security.test_public_privacy_walk import EMAIL, PHONE, day  # noqa: F401
from tests.test_open311 import little_city  # noqa: F401

pytestmark = pytest.mark.django_db


def streamed(answer) -> str:  # type: ignore[no-untyped-def]
    return b"".join(answer.streaming_content).decode()


def test_the_csv_has_the_dictionarys_fields_and_only_public_rows(client: Client, day) -> None:
    answer = client.get("/opendata/requests.csv")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert answer["Content-Disposition"].startswith('attachment; filename="requests-')
    rows = list(csv.DictReader(io.StringIO(streamed(answer))))
    assert list(rows[0]) == FIELDS
    assert json.loads(client.get("/opendata/dictionary.json").content)["fields"][0]["field"] == FIELDS[0]
    by_id = {r["service_request_id"]: r for r in rows}
    assert set(by_id) == {day["named"].ticket, day["anonymous"].ticket, day["rats"].ticket}  # no sensitive one
    named = by_id[day["named"].ticket]
    assert PHONE not in named["description"] and EMAIL not in named["description"]
    assert "[phone removed]" in named["description"] and named["ward"] == "1" and named["duplicate"] == "false"
    rats = by_id[day["rats"].ticket]
    assert (rats["latitude"], rats["longitude"], rats["location_precision"]) == ("0.502", "0.501", "block")
    assert rats["address"] == "1200 block of N STATE ST"
    assert int(answer["X-Row-Count"]) == len(rows) == 3


def test_geojson_carries_the_same_rows_as_features(client: Client, day) -> None:
    answer = client.get("/opendata/requests.geojson?service_code=pothole")
    doc = json.loads(streamed(answer))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 2
    assert {f["properties"]["service_code"] for f in doc["features"]} == {"pothole"}
    assert all(f["geometry"]["type"] == "Point" and "latitude" not in f["properties"] for f in doc["features"])


def test_filters_by_ward_and_period(client: Client, day) -> None:
    none = list(csv.DictReader(io.StringIO(streamed(client.get("/opendata/requests.csv?ward=2")))))
    assert none == []
    old = list(
        csv.DictReader(io.StringIO(streamed(client.get("/opendata/requests.csv?start=2020-01-01&end=2020-01-31"))))
    )
    assert old == []


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("start=yesterday", "start must be a date"),
        ("start=2026-05-02&end=2026-05-01", "must not be after end"),
        ("ward=one", "ward must be ward numbers"),
        ("service_code=abuse", "unknown service_code"),
    ],
)
def test_bad_filters_get_a_400_that_says_what_was_expected(client: Client, day, query: str, says: str) -> None:
    answer = client.get(f"/opendata/requests.csv?{query}")
    assert answer.status_code == 400 and says in json.loads(answer.content)["detail"]
    assert client.get("/opendata/requests.xlsx").status_code == 404


def test_a_large_export_is_a_job_and_its_file_matches_the_stream(  # type: ignore[no-untyped-def]
    client: Client,
    day,
    settings,
    tmp_path,
    django_capture_on_commit_callbacks,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    direct = streamed(client.get("/opendata/requests.csv"))
    settings.OPENDATA_INLINE_MAX_ROWS = 2
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.get("/opendata/requests.csv")
    assert queued.status_code == 202 and queued["Location"] == json.loads(queued.content)["url"]
    job = json.loads(client.get(queued["Location"]).content)
    assert job["state"] == "done" and job["rows"] == 3
    assert b"".join(client.get(job["download"]).streaming_content).decode() == direct
    assert DataExport.objects.get().file.startswith("exports/")
    assert client.get("/opendata/exports/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_the_command_writes_the_same_export(day, tmp_path) -> None:
    target = tmp_path / "requests.geojson"
    call_command("export_requests", "--format", "geojson", "--output", str(target))
    assert len(json.loads(target.read_text())["features"]) == 3
    out = io.StringIO()
    call_command("export_requests", "--dictionary", stdout=out)
    assert [d["field"] for d in json.loads(out.getvalue())] == FIELDS
