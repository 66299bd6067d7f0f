"""The one place that knows coordinate order.

Everything that arrives from outside (query strings, JSON bodies, CSV columns, GDAL layers) is
turned into a `Point(lon, lat, srid=4326)` or a 4326 geometry here, with a message that says what
was expected when it cannot be. Nothing else in the code base guesses at axis order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from django.contrib.gis.gdal import CoordTransform, OGRGeometry, SpatialReference
from django.contrib.gis.geos import GEOSGeometry, Point

WGS84 = 4326
M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)


def local_metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Ground distance between two nearby lon/lat points (equirectangular at their mean latitude): the one
    short-distance formula, for offsets and nearness tests; within a few km it agrees with the great circle to
    about 0.2 % (the degree length is the equatorial one). Use `haversine_m` where a length is reported."""
    dx = (lon2 - lon1) * M_PER_DEG * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(dx, (lat2 - lat1) * M_PER_DEG)


def local_plane(lonlat: Any, lat0: float) -> np.ndarray:
    """(n, 2) lon/lat degrees → (n, 2) metres east and north on a plane true at latitude `lat0` (degrees), by
    the same equirectangular rule as `local_metres`: for KD-trees and nearest-point searches within a city."""
    a = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    return np.column_stack((a[:, 0] * M_PER_DEG * math.cos(math.radians(lat0)), a[:, 1] * M_PER_DEG))


def offset_degrees(east_m: float, north_m: float, lat: float) -> tuple[float, float]:
    """(dlon, dlat) in degrees for an offset of `east_m` metres east and `north_m` north at latitude `lat`: the
    inverse of `local_plane` (the same equirectangular rule), for moving a point by metres."""
    return east_m / (M_PER_DEG * math.cos(math.radians(lat))), north_m / M_PER_DEG


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres, for distances where the earth's curve matters (street edges city-wide)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


class CoordinateError(ValueError):
    """A coordinate that cannot be a point on the Earth; the message says what was expected."""


def _number(name: str, raw: object) -> float:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise CoordinateError(f"{name} is required (decimal degrees, WGS84)")
    if isinstance(raw, bool):
        raise CoordinateError(f"{name} must be a number in decimal degrees; got {raw!r}")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CoordinateError(f"{name} must be a number in decimal degrees; got {raw!r}") from None
    if not math.isfinite(value):
        raise CoordinateError(f"{name} must be a finite number; got {raw!r}")
    return value


def checked_lonlat(lon: object, lat: object) -> tuple[float, float]:
    """Validate a longitude/latitude pair (without building a geometry: batch lookups send plain numbers)."""
    x = _number("lon", lon)
    y = _number("lat", lat)
    if not -180.0 <= x <= 180.0:
        raise CoordinateError(f"lon must be between -180 and 180; got {x}")
    if not -90.0 <= y <= 90.0:
        hint = " (are lon and lat swapped?)" if -90.0 <= x <= 90.0 and -180.0 <= y <= 180.0 else ""
        raise CoordinateError(f"lat must be between -90 and 90; got {y}{hint}")
    return x, y


def point_from_lonlat(lon: object, lat: object) -> Point:
    """Validate a longitude/latitude pair and return a WGS84 point (x = lon, y = lat)."""
    x, y = checked_lonlat(lon, lat)
    return Point(x, y, srid=WGS84)


def bbox_from_param(raw: str | None, max_area_deg2: float | None = None) -> tuple[float, float, float, float]:
    """A `minlon,minlat,maxlon,maxlat` query parameter as a validated WGS84 box."""
    try:
        x0, y0, x1, y1 = (float(v) for v in (raw or "").split(","))
    except ValueError:
        raise CoordinateError(f"bbox must be minlon,minlat,maxlon,maxlat; got {raw!r}") from None
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise CoordinateError("bbox must be minlon < maxlon and minlat < maxlat, in degrees")
    if max_area_deg2 is not None and (x1 - x0) * (y1 - y0) > max_area_deg2:
        side = max_area_deg2**0.5
        raise CoordinateError(f"bbox too large: zoom in (at most about {side:.2f} x {side:.2f} degrees)")
    return x0, y0, x1, y1


def lonlat(point: GEOSGeometry) -> tuple[float, float]:
    """(lon, lat) of a WGS84 point."""
    if point.srid not in (None, WGS84):
        point = point.transform(WGS84, clone=True)
    return float(point.x), float(point.y)  # type: ignore[attr-defined]


def points_from_lonlats(pairs: Iterable[tuple[object, object]]) -> list[Point]:
    return [point_from_lonlat(lon, lat) for lon, lat in pairs]


def point_from_projected(x: float, y: float, srid: int) -> Point:
    """A point given in a projected system (e.g. State Plane feet) reprojected to WGS84."""
    return Point(float(x), float(y), srid=srid).transform(WGS84, clone=True)  # type: ignore[return-value]


_WGS84_SRS = SpatialReference(WGS84)  # Django builds it with traditional GIS (lon, lat) axis order.


def ogr_to_wgs84(geom: OGRGeometry, source_srs: SpatialReference | None) -> GEOSGeometry:
    """Reproject a GDAL geometry to WGS84 (lon, lat) and hand it over as GEOS.

    A layer with no coordinate system is taken as WGS84, which is what GeoJSON (RFC 7946) says.
    """
    if source_srs is not None and source_srs.srid != WGS84:
        geom = geom.clone()
        geom.transform(CoordTransform(source_srs, _WGS84_SRS))
    out = geom.geos
    out.srid = WGS84
    return out
