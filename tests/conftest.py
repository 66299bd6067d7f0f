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
