"""Shared fixtures: tiny literal geometries and named actors.

The literal city: two unit squares side by side near the equator-free test area (lon 0..2, lat 0..1)
are wards 1 and 2; they share the edge lon = 1. Points are chosen by hand so every answer can be
checked on paper.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from layers.importing import BoundaryImportSpec, ImportReport, import_boundaries
from layers.models import LayerKind

WEST_SQUARE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
EAST_SQUARE = [[1.0, 0.0], [2.0, 0.0], [2.0, 1.0], [1.0, 1.0], [1.0, 0.0]]


def feature(number: object, ring: list[list[float]], name: str | None = None, **props: object) -> dict:
    properties: dict[str, object] = {"ward": number, **props}
    if name is not None:
        properties["name"] = name
    return {"type": "Feature", "properties": properties, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


@pytest.fixture
def write_geojson(tmp_path: Path) -> Callable[..., Path]:
    counter = {"n": 0}

    def write(fc: dict | str, name: str | None = None) -> Path:
        counter["n"] += 1
        path = tmp_path / (name or f"layer{counter['n']}.geojson")
        path.write_text(fc if isinstance(fc, str) else json.dumps(fc))
        return path

    return write


@pytest.fixture
def load_wards(write_geojson: Callable[..., Path]) -> Callable[..., ImportReport]:
    """Import a literal ward map and (by default) activate it."""

    def load(
        fc: dict,
        *,
        name: str = "test wards",
        effective_from: dt.date | None = None,
        effective_to: dt.date | None = None,
        activate: bool = True,
        kind: str = LayerKind.WARDS,
        number_field: str = "ward",
        dry_run: bool = False,
    ) -> ImportReport:
        path = write_geojson(fc)
        spec = BoundaryImportSpec(
            path=path, kind=kind, name=name, number_field=number_field, name_field=None,
            effective_from=effective_from, effective_to=effective_to, activate=activate,
        )
        return import_boundaries(spec, dry_run=dry_run)

    return load


@pytest.fixture
def two_square_wards(load_wards: Callable[..., ImportReport]) -> ImportReport:
    """Ward 1 = west square, ward 2 = east square, in force for all time."""
    return load_wards(collection(feature("1", WEST_SQUARE), feature("2", EAST_SQUARE)))


@pytest.fixture(scope="session")
def live_server(django_db_setup, live_server):  # type: ignore[no-untyped-def]
    """pytest-django's live server, made to stop before the test database is dropped.

    Depending on django_db_setup orders the teardown: the server thread (and its connection) goes first.
    """
    return live_server


# ---- the request domain: a small city with named actors -------------------------------------------


@pytest.fixture
def streets_dept(db):  # type: ignore[no-untyped-def]
    from gis_app.models import Department

    return Department.objects.create(code="streets", name="Streets and Sanitation", queue_email="streets@city.test",
                                     supervisor_email="boss@city.test")


@pytest.fixture
def pothole(streets_dept):  # type: ignore[no-untyped-def]
    from gis_app.models import ServiceAttribute, ServiceType

    st = ServiceType.objects.create(code="pothole", name="Pothole in street", group="Streets",
                                    department=streets_dept, sla_amount=16, sla_text="Usually fixed in two days",
                                    completion_requires_photo=True)
    ServiceAttribute.objects.create(service_type=st, code="where", datatype="singlevaluelist", required=True,
                                    order=1, description="Where in the street?",
                                    values=[{"key": "lane", "name": "Traffic lane"}, {"key": "curb", "name": "Curb"}])
    ServiceAttribute.objects.create(service_type=st, code="depth_cm", datatype="number", order=2,
                                    description="Depth in centimetres")
    return st


@pytest.fixture
def info_call(streets_dept):  # type: ignore[no-untyped-def]
    from gis_app.models import ServiceType

    return ServiceType.objects.create(code="info", name="311 information only call", department=streets_dept,
                                      location_required=False, sla_kind="calendar_days", sla_amount=0)


def _user(name: str, role: str):  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from gis_app.roles import ensure_roles

    ensure_roles()
    user = get_user_model().objects.create_user(name, password="pw-for-tests-only")
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def intake_clerk(db):  # type: ignore[no-untyped-def]
    return _user("intake_clerk", "intake clerk")


@pytest.fixture
def dispatcher(db):  # type: ignore[no-untyped-def]
    return _user("dispatcher", "dispatcher")


@pytest.fixture
def crew_alpha(db):  # type: ignore[no-untyped-def]
    return _user("crew_alpha", "crew member")


@pytest.fixture
def alderman_ward_2(db):  # type: ignore[no-untyped-def]
    return _user("alderman_ward_2", "council member")
