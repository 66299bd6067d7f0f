"""Shared fixtures: tiny literal geometries and named actors.

The literal city: two unit squares side by side near the equator-free test area (lon 0..2, lat 0..1)
are wards 1 and 2; they share the edge lon = 1. Points are chosen by hand so every answer can be
checked on paper.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from layers.importing import BoundaryImportSpec, ImportReport, import_boundaries
from layers.models import LayerKind


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked heavy first, otherwise in collection order. Why: with `--dist loadfile` a file runs whole on
    one worker and the suite ends when its last file does; xdist's own order (most tests first) left the
    10,000-event sync test (one test, 80-100 s) for last, with the other worker idle for most of it."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


def wait_until(check, seconds: float = 60, message: str | Callable[[], str] = "timed out"):  # type: ignore[no-untyped-def]
    """`check()`'s first truthy answer, asked every 0.3 s for up to `seconds`; else an AssertionError with
    `message` (called, if it is a function, when the time is up: a log read then)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(message() if callable(message) else message)


WEST_SQUARE = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
EAST_SQUARE = [[1.0, 0.0], [2.0, 0.0], [2.0, 1.0], [1.0, 1.0], [1.0, 0.0]]


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Each test starts with no requests counted against the Open311 rate limits (the cache is per process)
    and no remembered configuration (layers.memo: a test's rows are rolled back without a signal)."""
    from django.core.cache import cache

    from layers.memo import forget

    cache.clear()
    forget()


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
            path=path,
            kind=kind,
            name=name,
            number_field=number_field,
            name_field=None,
            effective_from=effective_from,
            effective_to=effective_to,
            activate=activate,
        )
        return import_boundaries(spec, dry_run=dry_run)

    return load


@pytest.fixture
def two_square_wards(load_wards: Callable[..., ImportReport]) -> ImportReport:
    """Ward 1 = west square, ward 2 = east square, in force for all time."""
    return load_wards(collection(feature("1", WEST_SQUARE), feature("2", EAST_SQUARE)))


# A literal address grid for little test cities: Madison 0, Division 1200 N, Roosevelt 1200 S; State 0,
# Ashland 1600 W; even numbers on the west and north sides.
LITTLE_GRID = """
even_side = { NS = "W", EW = "N" }
[north_south]
"MADISON ST" = 0
"DIVISION ST" = 1200
"ROOSEVELT RD" = -1200
[east_west]
"STATE ST" = 0
"ASHLAND AVE" = -1600
"""
NO_GRID = '[north_south]\n"NOWHERE ST" = 0\n'  # names no street of the layer: the city has no grid


@pytest.fixture
def grid_city(two_square_wards, tmp_path: Path, settings):  # type: ignore[no-untyped-def]
    """Load a literal street layer (corners: street_1, street_2, lon, lat, zip) and address grid (TOML text)
    for geocoding, inside the two square wards; the geocoder's cache is cleared before and after."""
    from layers import geocoding
    from routing.network import NetworkConfig, StreetNetworkSpec
    from routing.streets import import_street_network

    def build(name: str, corners: list[tuple[str, str, float, float, str]], grid_text: str) -> None:
        csv = tmp_path / f"{name}.csv"
        csv.write_text(
            "street_1,street_2,longitude,latitude,zipcode\n"
            + "".join(f"{a},{b},{x},{y},{z}\n" for a, b, x, y, z in corners)
        )
        grid = tmp_path / f"{name}.toml"
        grid.write_text(grid_text)
        settings.CITY_GRID = grid
        geocoding.clear_cache()
        import_street_network(
            StreetNetworkSpec(kind="derived", name=name, path=csv), NetworkConfig(max_gap_metres=200_000)
        )

    yield build
    geocoding.clear_cache()


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

    return Department.objects.create(
        code="streets",
        name="Streets and Sanitation",
        queue_email="streets@city.test",
        supervisor_email="boss@city.test",
    )


@pytest.fixture
def pothole(streets_dept):  # type: ignore[no-untyped-def]
    from gis_app.models import ServiceAttribute, ServiceType

    st = ServiceType.objects.create(
        code="pothole",
        name="Pothole in street",
        group="Streets",
        department=streets_dept,
        sla_amount=16,
        sla_text="Usually fixed in two days",
        completion_requires_photo=True,
    )
    ServiceAttribute.objects.create(
        service_type=st,
        code="where",
        datatype="singlevaluelist",
        required=True,
        order=1,
        description="Where in the street?",
        values=[{"key": "lane", "name": "Traffic lane"}, {"key": "curb", "name": "Curb"}],
    )
    ServiceAttribute.objects.create(
        service_type=st, code="depth_cm", datatype="number", order=2, description="Depth in centimetres"
    )
    return st


@pytest.fixture
def info_call(streets_dept):  # type: ignore[no-untyped-def]
    from gis_app.models import ServiceType

    return ServiceType.objects.create(
        code="info",
        name="311 information only call",
        department=streets_dept,
        location_required=False,
        sla_kind="calendar_days",
        sla_amount=0,
    )


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


# ---- dispatch: a 5 x 5 street grid (about 220 m blocks) inside ward 1, crews and open work -------------

GRID_LON0, GRID_LAT0, GRID_STEP = 0.5, 0.5, 0.002


def grid_osm(n: int = 5) -> str:
    """A two-way residential grid: node 1 + 10 i + j at (lon0 + step j, lat0 + step i)."""
    nodes, ways = [], []
    for i in range(n):
        for j in range(n):
            nodes.append(
                f'<node id="{1 + 10 * i + j}" lat="{GRID_LAT0 + GRID_STEP * i:.6f}" '
                f'lon="{GRID_LON0 + GRID_STEP * j:.6f}"/>'
            )
    for i in range(n):
        refs = "".join(f'<nd ref="{1 + 10 * i + j}"/>' for j in range(n))
        ways.append(f'<way id="{100 + i}">{refs}<tag k="highway" v="residential"/><tag k="name" v="Row {i}"/></way>')
        refs = "".join(f'<nd ref="{1 + 10 * j + i}"/>' for j in range(n))
        ways.append(f'<way id="{200 + i}">{refs}<tag k="highway" v="residential"/><tag k="name" v="Col {i}"/></way>')
    return '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n' + "\n".join(nodes + ways) + "\n</osm>\n"


def on_grid(i: float, j: float):  # type: ignore[no-untyped-def]
    """A point at grid row i, column j (fractions put it mid-block)."""
    from layers.coords import point_from_lonlat

    return point_from_lonlat(GRID_LON0 + GRID_STEP * j, GRID_LAT0 + GRID_STEP * i)


@pytest.fixture
def street_grid(two_square_wards, tmp_path: Path):  # type: ignore[no-untyped-def]
    from routing.matrix import clear_cache
    from routing.network import NetworkConfig, StreetNetworkSpec
    from routing.streets import import_street_network

    path = tmp_path / "grid.osm"
    path.write_text(grid_osm())
    clear_cache()
    return import_street_network(
        StreetNetworkSpec(kind="osm", name="test grid", path=path, source="test", licence="ODbL"), NetworkConfig()
    )


@pytest.fixture
def streetlight(streets_dept):  # type: ignore[no-untyped-def]
    from gis_app.models import ServiceType

    return ServiceType.objects.create(
        code="light",
        name="Street light out",
        department=streets_dept,
        sla_amount=40,
        required_skill="electrical",
        expected_minutes=20,
    )


@pytest.fixture
def yard(db):  # type: ignore[no-untyped-def]
    from routing.models import Depot

    return Depot.objects.create(code="yard", name="Test yard", location=on_grid(0, 0))


def make_crew(code: str, dept, depot, *, skills=(), workdays=(0, 1, 2, 3, 4, 5, 6), user=None):  # type: ignore[no-untyped-def]
    from routing.models import Crew

    crew = Crew.objects.create(
        code=code,
        name=code.replace("-", " ").title(),
        department=dept,
        depot=depot,
        skills=list(skills),
        workdays=list(workdays),
        shift_start=dt.time(7, 0),
        shift_end=dt.time(15, 30),
    )
    if user is not None:
        crew.members.add(user)
    return crew


@pytest.fixture
def crews(streets_dept, yard, crew_alpha):  # type: ignore[no-untyped-def]
    """Crew Alpha (paving; crew_alpha's tablet) and Crew Bravo (electrical), both from the yard, every day."""
    return {
        "alpha": make_crew("crew-alpha", streets_dept, yard, skills=["paving"], user=crew_alpha),
        "bravo": make_crew("crew-bravo", streets_dept, yard, skills=["electrical"]),
    }


def file_request(code: str, point, **extra):  # type: ignore[no-untyped-def]
    from gis_app.intake import IntakeData, create_request

    attrs = {"where": "curb"} if code == "pothole" else {}
    return create_request(IntakeData(service_code=code, location=point, attributes=attrs, **extra), actor_label="test")


@pytest.fixture
def open_work(street_grid, pothole, streetlight, crews):  # type: ignore[no-untyped-def]
    """Six potholes (paving work) and four dead lights (electrical) spread over the grid, each mid-block."""
    pothole.required_skill = "paving"
    pothole.save(update_fields=["required_skill"])
    potholes = [
        file_request("pothole", on_grid(i, j)) for i, j in [(0, 1.5), (1, 3.5), (2, 0.5), (3, 2.5), (4, 1.5), (2.5, 4)]
    ]
    lights = [file_request("light", on_grid(i, j)) for i, j in [(1, 0.5), (3, 3.5), (0.5, 2), (4, 3.5)]]
    return {"potholes": potholes, "lights": lights}


# ---- a crew's published day (the field API, the tablet page and the security tests share it) ---------------


@pytest.fixture
def sms_folder(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Text messages written to files in the test's folder, photos stored there too."""
    settings.SMS_BACKEND = "gis_app.notifications.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "sms"


@pytest.fixture
def plan(open_work, streets_dept, sms_folder):  # type: ignore[no-untyped-def]
    """Today's plan of the open work, published: Crew Alpha's and Crew Bravo's routes are out."""
    from django.utils import timezone

    from routing.planning import plan_day

    # A handful of jobs: the first solution is found in milliseconds, and the search runs to its time limit.
    return plan_day(timezone.localdate(), streets_dept, time_limit=0.25, publish=True).plan


@pytest.fixture
def alpha_tablet(crews):  # type: ignore[no-untyped-def]
    """Crew Alpha's tablet, signed in with its own device token (kept on the client as `.token`)."""
    from rest_framework.test import APIClient

    from field_api.models import DeviceToken

    token, raw = DeviceToken.issue(crews["alpha"], "Alpha tablet")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {raw}")
    client.token = token
    return client
