"""The same behaviour on two unlike cities, each from nothing but its own files under fixtures/<city>/.

Chicago (a numbered grid, numeric wards) and San Francisco (named streets at several angles, supervisor
districts, a street network that covers only part of the city, free-text duplicate notes). Clipped for CI:
the street network is each city's first OSM extract only; boundaries and the 311 history load whole.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from gis_app.citydata.loading import load_311
from gis_app.models import ServiceRequest, ServiceType
from layers import geocoding
from layers.importing import load_manifest
from layers.models import LayerKind, LayerVersion
from routing.network.manifest import read_streets_manifest
from routing.streets import import_street_network

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.heavy,
    pytest.mark.parametrize("city", ["chicago", "san_francisco"]),
]

FIXTURES = Path(settings.BASE_DIR) / "fixtures"


@pytest.fixture
def loaded(city, settings):  # type: ignore[no-untyped-def]
    """A city loaded from its files: districts, its first OSM street network, its 311 history and assumptions."""
    from routing.matrix import clear_cache

    folder = FIXTURES / city
    settings.CITY = city
    settings.CITY_DIR = folder
    settings.CITY_311_MAPPING = folder / "311_mapping.toml"
    settings.CITY_ASSUMPTIONS = folder / "assumptions.toml"
    settings.CITY_GRID = folder / "grid.toml"
    settings.CITY_GRID_REQUIRED = False
    import tomllib

    city_file = tomllib.loads((folder / "city.toml").read_text())
    settings.CITY_NAME, settings.TIME_ZONE = city_file["name"], city_file["time_zone"]
    settings.CITY_LEARN_ADDRESS_POINTS = bool(city_file.get("geocoding", {}).get("learn_address_points"))
    timezone.deactivate()
    load_manifest(folder / "layers.toml")
    config, specs = read_streets_manifest(folder / "streets.toml")
    clear_cache()
    geocoding.clear_cache()
    import_street_network(next(s for s in specs if s.kind == "osm"), config)
    report = load_311(folder / "311_mapping.toml")
    call_command("load_assumptions")
    yield report
    geocoding.clear_cache()
    clear_cache()


def test_the_city_runs_from_its_own_files(city, loaded, client, django_user_model):
    """Each step names itself when it fails; one load of the city serves them all (a load takes seconds)."""
    loads_whole(city, loaded)
    corners_geocode_to_themselves()
    if settings.CITY_LEARN_ADDRESS_POINTS:  # a city without a grid
        house_numbers_come_from_its_own_history()
    else:
        house_numbers_come_from_its_grid()
    a_repeat_is_one_issue_planned_and_completed()
    open311_and_reports_come_out(client, django_user_model)


def loads_whole(city, loaded):  # type: ignore[no-untyped-def]
    assert loaded.loaded > 4000 and LayerVersion.objects.filter(kind=LayerKind.WARDS, active=True).exists()
    located = ServiceRequest.objects.filter(location__isnull=False)
    assert located.filter(ward_number__isnull=False).count() == located.count()  # every point has its district
    assert not ServiceType.objects.filter(crew_work=True, name__in=_not_crew_work(city)).exists()


def _not_crew_work(city: str) -> list[str]:
    import tomllib

    return tomllib.loads((FIXTURES / city / "311_mapping.toml").read_text())["types"]["not_dispatchable"]


def corners(n: int) -> list[tuple[str, str, float, float]]:
    """Nodes of the loaded network where two differently named streets meet: (name, name, lon, lat)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT DISTINCT ON (a.u) a.name, b.name, ST_X(n.geom), ST_Y(n.geom)
              FROM layers_streetedge a
              JOIN layers_streetedge b ON b.u = a.u AND b.layer_version_id = a.layer_version_id AND a.name < b.name
              JOIN layers_streetnode n ON n.node_id = a.u AND n.layer_version_id = a.layer_version_id
             WHERE a.name <> '' AND b.name <> ''
             ORDER BY a.u LIMIT %s
            """,
            [n],
        )
        return [(a, b, float(x), float(y)) for a, b, x, y in cur.fetchall()]


def corners_geocode_to_themselves() -> None:
    sample = corners(40)
    assert len(sample) == 40
    found = 0
    for a, b, x, y in sample:
        result = geocoding.geocode(f"{a} & {b}")
        places = [(result.lon, result.lat)] + [(c["lon"], c["lat"]) for c in result.candidates]
        found += any(p[0] is not None and abs(p[0] - x) < 3e-4 and abs(p[1] - y) < 3e-4 for p in places)
    assert found >= 36, f"{found} of 40 corners found"


def house_numbers_come_from_its_own_history() -> None:
    """Without a grid (San Francisco), from points learned from the city's own history: a learned address
    answers at its point, a number between two of a street's points lands between them."""
    from gis_app.citydata.address_learning import learn_address_points
    from layers.geocoding.along import consistent
    from layers.models import AddressPoint

    report = learn_address_points()
    assert report.loaded > 1000
    geocoding.clear_cache()
    idx = geocoding.index()
    street, row = next((k, r) for k, r in idx.along.items() if k in idx.streets and len(r) >= 6)
    point = AddressPoint.objects.filter(layer_version_id=report.version_id, street=street).first()
    assert point is not None
    same = geocoding.geocode(f"{point.number} {street}")
    assert same.kind == "point" and (same.lon, same.lat) == (point.geom.x, point.geom.y)
    rate = idx.metres_per_number
    assert rate is not None
    (n0, _, x0, y0), (_, _, x1, y1) = next(
        (a, b)
        for a, b in itertools.pairwise(row)
        if b[0] - a[0] >= 4 and a[0] % 2 == b[0] % 2 and consistent(rate, a, b)
    )
    between = geocoding.geocode(f"{n0 + 2} {street}")
    assert between.status == "matched" and between.kind == "interpolated"
    assert between.lon is not None and between.lat is not None
    assert min(x0, x1) - 1e-6 <= between.lon <= max(x0, x1) + 1e-6
    assert min(y0, y1) - 1e-6 <= between.lat <= max(y0, y1) + 1e-6


def house_numbers_come_from_its_grid() -> None:
    """With a grid file (Chicago), the city's own 311 house addresses on the loaded streets land near the City's
    own points for them (the history is the answer key here, never a reference: a grid city learns nothing)."""
    from layers.coords import haversine_m
    from layers.geocoding.names import _street_keys
    from layers.normalize import parse

    idx = geocoding.index()
    assert idx.has_grid
    on_layer = []
    for address, point in (
        ServiceRequest.objects.filter(location__isnull=False, address__regex=r"^[0-9]+ ")
        .order_by("external_id")
        .values_list("address", "location")
    ):
        street = parse(address).street
        keys, match = _street_keys(idx, street) if street is not None else ([], 0.0)
        if match < 0.95 or address in dict(on_layer):
            continue
        # Only where the loaded network has the street (CI loads the Loop's extract, not the whole city).
        nodes = np.concatenate([idx.streets[k] for k in keys])
        if np.hypot((nodes[:, 0] - point.x) * 0.74, nodes[:, 1] - point.y).min() * 111_320 <= 60:
            on_layer.append((address, point))
    assert len(on_layer) >= 3, f"only {len(on_layer)} house addresses on the loaded streets"
    near = 0
    for address, point in on_layer[:40]:
        found = geocoding.geocode(address)
        near += bool(
            found.status == "matched"
            and found.lon is not None
            and found.lat is not None
            and haversine_m(found.lon, found.lat, point.x, point.y) <= 150
        )
    assert near >= 0.8 * len(on_layer[:40]), f"{near} of {len(on_layer[:40])} within 150 m of the City's points"


def a_repeat_is_one_issue_planned_and_completed() -> None:
    from gis_app import dedup
    from gis_app.intake import IntakeData, create_request
    from gis_app.transitions import complete_with_duplicates

    # Work inside the loaded network, of a type that is crew work, for the department that owns it there.
    from layers.coords import point_from_lonlat
    from routing.models import Crew, Depot, Stop
    from routing.planning import plan_day

    _, _, x, y = corners(11)[10]
    corner = point_from_lonlat(x, y)
    stype = ServiceType.objects.filter(crew_work=True, location_required=True, requests__isnull=False).first()
    assert stype is not None
    first = create_request(IntakeData(service_code=stype.code, location=corner), link_duplicates=True)
    second = create_request(IntakeData(service_code=stype.code, location=corner), link_duplicates=True)
    assert second.parent == first or [c.ticket for c in dedup.for_request(second)][:1] == [first.ticket]
    depot = Depot.objects.create(code="test-yard", name="Test yard", location=corner)
    Crew.objects.create(
        code="test-crew",
        name="Test crew",
        department=first.department,
        depot=depot,
        workdays=list(range(7)),
        shift_start=dt.time(0, 0),
        shift_end=dt.time(23, 59),
    )
    day = timezone.localdate()
    report = plan_day(day, first.department, time_limit=1, publish=True)
    stop = Stop.objects.filter(route__plan=report.plan, request=first).first()
    assert stop is not None, report.plan.dropped[:5]
    first.refresh_from_db()
    done, _ = complete_with_duplicates(first, note="cleared", photos=1, actor_label="test crew")
    assert done.status == "completed"


def open311_and_reports_come_out(client, django_user_model):  # type: ignore[no-untyped-def]
    from gis_app.roles import ensure_roles

    response = client.get("/open311/v2/requests.json")
    assert response.status_code == 200 and isinstance(response.json(), list)
    assert client.get("/open311/v2/services.json").status_code == 200
    ensure_roles()
    manager = django_user_model.objects.create_user("manager", password="x" * 16)
    from django.contrib.auth.models import Group

    manager.groups.add(Group.objects.get(name="manager"))
    client.force_login(manager)
    table = client.get("/reports/table.csv?by=type")
    assert table.status_code == 200 and b"," in table.content
