"""Build, once in gunicorn's master, what every web process would otherwise build on its first requests.

Why: with `preload_app`, workers are forked from a master that has imported Django and, through `warm()`,
its URLconf and views (about 2 s, else paid by each worker's first request), and has built the geocoder's
index of the street layer, the in-process point indexes of the district maps in force and the config memo.
A worker starts ready (copy-on-write), so neither the first requests after a start nor the
routine recycling of workers (`max_requests`) pays seconds of CPU to rebuild them while residents wait. A cache
that goes stale later (a new layer version, a changed service type) is rebuilt as before: the memo's generation
counter and the version keys still decide.
"""

from __future__ import annotations

import logging

from django.db import connections
from django.urls import reverse

from gis_app.departments import DepartmentRules
from gis_app.models import ServiceType
from layers.coords import point_from_lonlat
from layers.geocoding import GeocoderNotReady, index
from layers.geocoding.index import prepare_axes
from layers.lookup import LayerNotLoaded, numbers_at
from layers.models import LayerKind, Ward

log = logging.getLogger(__name__)


def warm(*, close: bool = True) -> list[str]:
    """Build the per-process caches a request uses; return what was built. Nothing that is not loaded is an
    error: a fresh database serves its health pages before any layer is loaded. Database connections are closed
    afterwards, so no forked worker shares the master's."""
    built: list[str] = []
    try:
        # Django imports the URLconf, and with it every view module (DRF, the OpenAPI schema, folium, the
        # solver), on a process's first request: about 2 s that the first resident after each fork would wait.
        reverse("home")
        built.append("URLconf and views")
        try:
            prepare_axes(index())
            built.append("geocoder index")
        except GeocoderNotReady:
            pass
        inside = Ward.objects.filter(layer_version__active=True).values_list("geom", flat=True).first()
        if inside is not None:
            spot = inside.point_on_surface
            for kind in (LayerKind.WARDS, LayerKind.COMMUNITY_AREAS):
                try:
                    numbers_at(kind, [point_from_lonlat(spot.x, spot.y)])
                    built.append(f"{kind} point index")
                except LayerNotLoaded:
                    pass
        ServiceType.objects.active_by_code("")
        DepartmentRules.in_force()
        built.append("config memo")
    except Exception:  # a cache that cannot be built now is built by the first request that needs it
        log.exception("warming the web processes' caches failed; each worker builds them on first use")
    finally:
        if close:
            connections.close_all()
    return built
