"""System checks say how to fix what is missing; the admin maps work with no internet."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks

from layers.models import LayerVersion, Ward

pytestmark = pytest.mark.django_db


def check_ids() -> dict[str, str]:
    return {m.id: m.hint or "" for m in run_checks(databases=["default"]) if m.id and m.id.startswith("layers.")}


def test_a_database_without_ward_layer_gets_a_warning_with_the_fix():
    ids = check_ids()
    assert "layers.W002" in ids
    assert "load_layers" in ids["layers.W002"]


def test_with_a_ward_layer_in_force_the_checks_are_clean(two_square_wards):
    assert set(check_ids()) == {"layers.W003"}  # no street network yet: told with its fix
    assert "load_streets" in check_ids()["layers.W003"]


def test_with_wards_and_streets_loaded_the_checks_are_clean(street_grid):
    assert check_ids() == {}


@pytest.fixture
def site_admin(db):
    return get_user_model().objects.create_superuser("site_admin", "admin@example.org", "pw-for-tests-only")


def test_the_ward_admin_page_uses_the_offline_map_with_no_external_assets(client, site_admin, two_square_wards):
    client.force_login(site_admin)
    ward = Ward.objects.get(number=1)
    html = client.get(f"/admin/layers/ward/{ward.pk}/change/").content.decode()
    assert 'class="offline-map"' in html
    assert "vendor/leaflet/leaflet.js" in html
    assert 'data-basemap="/layers/basemap/wards.geojson"' in html
    external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
    assert external == []
    assert "&quot;MultiPolygon&quot;" in html  # the geometry travels as (escaped) GeoJSON


def test_the_admin_can_activate_and_roll_back_from_the_version_list(client, site_admin, two_square_wards):
    client.force_login(site_admin)
    version = LayerVersion.objects.get(pk=two_square_wards.version_id)
    response = client.post(
        "/admin/layers/layerversion/", {"action": "retire_versions", "_selected_action": [version.pk]}, follow=True
    )
    assert response.status_code == 200
    version.refresh_from_db()
    assert not version.active
    client.post("/admin/layers/layerversion/", {"action": "rollback_last_change", "_selected_action": [version.pk]})
    version.refresh_from_db()
    assert version.active


def test_the_city_map_page_loads_only_local_assets(client):
    html = client.get("/").content.decode()
    assert "vendor/leaflet/leaflet.js" in html
    assert re.findall(r'(?:src|href)="(https?://[^"]+)"', html) == []
