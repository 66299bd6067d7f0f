"""HTTP views for the layers: point lookups, layer versions, basemap outlines."""

from __future__ import annotations

import datetime as dt
import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from layers.basemap import outlines_geojson, streets_geojson
from layers.coords import CoordinateError, bbox_from_param, point_from_lonlat
from layers.geocoding import GeocoderNotReady, geocode, reverse, suggest
from layers.http import error
from layers.lookup import LayerNotLoaded, community_area_at, ward_at
from layers.models import LayerKind, LayerVersion
from layers.tiles import TileError, city_tile
from layers.tiles import tilejson as build_tilejson


def _parse_day(raw: str | None) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise CoordinateError(f"on must be a date as YYYY-MM-DD; got {raw!r}") from None


class LookupResultSerializer(serializers.Serializer):
    ward = serializers.DictField(help_text="Ward lookup on the map in force on the date asked.")
    community_area = serializers.DictField(allow_null=True, help_text="Community area lookup, if loaded.")


class WhereIsView(APIView):
    """Which ward and community area hold a point, with the distance to the nearest edge."""

    @extend_schema(
        parameters=[
            OpenApiParameter("lon", OpenApiTypes.DOUBLE, required=True, description="Longitude, WGS84"),
            OpenApiParameter("lat", OpenApiTypes.DOUBLE, required=True, description="Latitude, WGS84"),
            OpenApiParameter("on", OpenApiTypes.DATE, description="Date the ward map must be in force (default today)"),
        ],
        responses={200: LookupResultSerializer},
    )
    def get(self, request: Request) -> Response:
        try:
            point = point_from_lonlat(request.query_params.get("lon"), request.query_params.get("lat"))
            day = _parse_day(request.query_params.get("on"))
        except CoordinateError as exc:
            return error(str(exc), status.HTTP_400_BAD_REQUEST)
        try:
            ward = ward_at(point, on=day)
        except LayerNotLoaded as exc:
            # A date the city's maps do not cover is the asker's to change (404); no map for today is ours (503).
            asked = bool(request.query_params.get("on"))
            return error(str(exc), status.HTTP_404_NOT_FOUND if asked else status.HTTP_503_SERVICE_UNAVAILABLE)
        try:
            area = community_area_at(point).as_dict()
        except LayerNotLoaded:
            area = None
        return Response({"ward": ward.as_dict(), "community_area": area})


class LayerVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = LayerVersion
        fields = [
            "id",
            "kind",
            "name",
            "source",
            "licence",
            "file_name",
            "checksum",
            "feature_count",
            "counts",
            "imported_at",
            "effective_from",
            "effective_to",
            "active",
        ]


class LayerVersionList(generics.ListAPIView):
    """Every recorded layer load, newest map last within each kind."""

    queryset = LayerVersion.objects.all()
    serializer_class = LayerVersionSerializer
    filterset_fields = ["kind", "active"]


@require_GET
def basemap(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in LayerKind.values:
        return HttpResponse(
            f"unknown layer kind {kind!r}; expected one of {', '.join(LayerKind.values)}",
            status=404,
            content_type="text/plain",
        )
    try:
        day = _parse_day(request.GET.get("on"))
        body = outlines_geojson(kind, day)
    except CoordinateError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    except LayerNotLoaded as exc:
        return HttpResponse(str(exc), status=404, content_type="text/plain")
    response = HttpResponse(body, content_type="application/geo+json")
    response["Cache-Control"] = "max-age=300"
    return response


@require_GET
def streets(request: HttpRequest) -> HttpResponse:
    """Street edges in a box (?bbox=minlon,minlat,maxlon,maxlat, at most about 0.05 x 0.05 degrees)."""
    try:
        box = bbox_from_param(request.GET.get("bbox"), max_area_deg2=0.0025)
    except CoordinateError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    response = HttpResponse(streets_geojson(box), content_type="application/geo+json")
    response["Cache-Control"] = "max-age=300"
    return response


@extend_schema(
    parameters=[
        OpenApiParameter("q", str, required=True, description="'1234 N Ashland Ave' or 'Clark & Division'"),
        OpenApiParameter(
            "suggest",
            int,
            required=False,
            description="also list up to this many completions of partial input "
            "('1234 n ashl'), best first (at most 10)",
        ),
    ],
    responses=OpenApiTypes.OBJECT,
    summary="Forward geocoding on the city's street layer and address grid",
)
@api_view(["GET"])
@permission_classes([AllowAny])
def geocode_view(request: Request) -> Response:
    """The best result first; `candidates` lists the alternatives when the answer is ambiguous."""
    q = str(request.query_params.get("q", "")).strip()
    if not q:
        return error("q: give an address ('1234 N Ashland Ave') or cross streets ('Clark & Division')", 400)
    if len(q) > 300:
        return error(f"q: at most 300 characters; got {len(q)}", 400)
    raw = str(request.query_params.get("suggest") or "")
    try:
        limit = int(raw) if raw else 0
    except ValueError:
        return error(f"suggest: a whole number of suggestions (1-10); got {raw!r}", 400)
    if not 0 <= limit <= 10:
        return error(f"suggest: between 1 and 10 suggestions; got {limit}", 400)
    try:
        body = geocode(q).as_dict()
        if limit:
            body["suggestions"] = suggest(q, limit)
        return Response(body)
    except GeocoderNotReady as exc:
        return error(str(exc), 503)


@extend_schema(
    parameters=[OpenApiParameter("lon", float, required=True), OpenApiParameter("lat", float, required=True)],
    responses=OpenApiTypes.OBJECT,
    summary="What is at a point: address, corner, ward, community area",
)
@api_view(["GET"])
@permission_classes([AllowAny])
def reverse_view(request: Request) -> Response:
    try:
        point = point_from_lonlat(request.query_params.get("lon"), request.query_params.get("lat"))
    except CoordinateError as exc:
        return error(str(exc), 400)
    try:
        return Response(reverse(point.x, point.y))
    except (GeocoderNotReady, LayerNotLoaded) as exc:
        return error(str(exc), 503)


@require_GET
def tile(request: HttpRequest, z: int, x: int, y: int) -> HttpResponse:
    """One vector tile of the city map (Mapbox Vector Tile). A tile URL carries the layer versions' key (?v=,
    from tiles.json), so a browser may keep it for a day; a new layer version changes the URL."""
    try:
        body = city_tile(z, x, y, version_key=request.GET.get("v", ""))
    except TileError as exc:
        return HttpResponse(str(exc), status=404, content_type="text/plain")
    response = HttpResponse(body, content_type="application/vnd.mapbox-vector-tile")
    response["Cache-Control"] = "public, max-age=86400" if request.GET.get("v") else "max-age=300"
    return response


@require_GET
def tilejson(request: HttpRequest) -> HttpResponse:
    """TileJSON for the city map: the tile URL template with the current layer versions' key, zooms, bounds and
    every layer's attribution (OSM's ODbL notice among them)."""
    body = build_tilejson("/tiles/city/")  # root-relative: a page fetches tiles from the host it came from
    response = HttpResponse(json.dumps(body), content_type="application/json")
    response["Cache-Control"] = "max-age=60"
    return response
