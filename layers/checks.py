"""System checks: the things that must hold before any lookup can work, each with its fix."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError, connections
from django.utils import timezone

from layers.models import LayerKind, LayerVersion

FIX_SETUP = "run `make test` or `make demo` (they install it), or `apt-get install -y gdal-bin libgdal-dev`"


@register("gis311")
def check_gdal_geos(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    try:
        # Imported here: a missing libgdal must become this check's Error, not an import crash.
        from django.contrib.gis.gdal import gdal_version

        gdal_version()
    except Exception as exc:  # any failure to load libgdal
        errors.append(Error(f"GDAL could not be loaded: {exc}", hint=FIX_SETUP, id="layers.E001"))
    try:
        from django.contrib.gis.geos import geos_version  # as above, for libgeos

        geos_version()
    except Exception as exc:
        errors.append(Error(f"GEOS could not be loaded: {exc}", hint=FIX_SETUP, id="layers.E002"))
    return errors


@register(Tags.database)
def check_postgis_and_wards(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Run by `manage.py check --database default` and by migrate."""
    if not databases or "default" not in databases:
        return []
    conn = connections["default"]
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            row = cur.fetchone()
    except DatabaseError as exc:
        return [
            Error(f"cannot query the database: {exc}", hint="start PostgreSQL (`make test` does)", id="layers.E003")
        ]
    if row is None:
        return [
            Error(
                f"the PostGIS extension is not installed in database {conn.settings_dict['NAME']!r}",
                hint="run `CREATE EXTENSION postgis;` as a superuser, or `make test` / `make demo`",
                id="layers.E004",
            )
        ]

    try:
        in_force = LayerVersion.objects.of_kind(LayerKind.WARDS).active().in_force_on(timezone.localdate()).exists()
    except DatabaseError:
        return [Warning("the layer tables do not exist yet", hint="run `manage.py migrate`", id="layers.W001")]
    found: list[CheckMessage] = []
    if not in_force:
        found.append(
            Warning(
                "no active ward layer is in force today: ward lookups and intake will fail",
                hint="run `manage.py load_layers` (loads the city's manifest) or `manage.py import_boundaries "
                "--kind wards --activate FILE`, then check effective dates in the admin",
                id="layers.W002",
            )
        )
    if not LayerVersion.objects.of_kind(LayerKind.STREETS).active().exists():
        found.append(
            Warning(
                "no street network is loaded: geocoding, dispatch planning and route geometry will refuse",
                hint="run `manage.py load_streets` (builds the networks the city's streets manifest lists)",
                id="layers.W003",
            )
        )
    return found
