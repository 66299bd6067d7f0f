"""What the tablet page needs beyond the route itself: signing a device in from a one-time link, and the map
of the route's area (streets with their names, ward outlines) that the page caches with the route."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.gis.geos import MultiPoint
from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from field_api.crew.serializers import ApiErrorSerializer
from field_api.crew.views import VISIBLE_PLANS, CrewAPIView
from field_api.models import DeviceSignIn, SignInError
from layers.basemap import outlines_geojson, streets_along_geojson
from layers.http import error
from layers.lookup import LayerNotLoaded
from routing.models import Route


class SignInThrottle(AnonRateThrottle):
    """Links are 32 random bytes (no guessing), but a flood of redemptions is still refused per address."""

    rate = "30/hour"


class CrewSignIn(APIView):
    """Exchange a one-time sign-in link's code for this device's own token (shown once)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [SignInThrottle]

    @extend_schema(
        summary="Sign a tablet in: a one-time link's code for a device token (the link then stops working)",
        request=inline_serializer("CrewSignInInput", {"code": serializers.CharField(max_length=100)}),
        responses={
            201: inline_serializer(
                "CrewSignInResult",
                {
                    "token": serializers.CharField(help_text="Send as `Authorization: Device <token>`."),
                    "device": serializers.CharField(),
                    "crew": inline_serializer(
                        "CrewSignInCrew", {"code": serializers.CharField(), "name": serializers.CharField()}
                    ),
                },
            ),
            400: ApiErrorSerializer,
            404: ApiErrorSerializer,
            410: ApiErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        code = request.data.get("code") if isinstance(request.data, dict) else None
        if not isinstance(code, str) or not 10 <= len(code) <= 100:
            return error("code: the code from the sign-in link (#signin=…) was expected", 400, field="code")
        try:
            with transaction.atomic():
                token, raw = DeviceSignIn.redeem(code)
        except SignInError as exc:
            return error(str(exc), exc.status, field="code")
        return Response(
            {"token": raw, "device": token.name, "crew": {"code": token.crew.code, "name": token.crew.name}},
            status=201,
        )


class RouteMap(CrewAPIView):
    """Streets within settings.FIELD_MAP_CORRIDOR_M of one of the crew's routes, and the ward outlines."""

    @extend_schema(
        summary="The map of a route's area: named streets along it and ward outlines (cached with the route)",
        responses={
            200: inline_serializer("RouteMap", {"streets": serializers.JSONField(), "wards": serializers.JSONField()}),
            404: ApiErrorSerializer,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        route = (
            Route.objects.filter(pk=pk, crew=self.device.crew_id, plan__status__in=VISIBLE_PLANS)
            .prefetch_related("stops__request")
            .first()
        )
        if route is None:
            raise Http404("no such route")
        points = [s.request.location for s in route.stops.all() if s.request.location is not None]
        shapes = [MultiPoint(*points, srid=4326).wkt] if points else []
        if route.geometry is not None:
            shapes.append(route.geometry.wkt)
        empty = {"type": "FeatureCollection", "networks": [], "features": []}
        streets = json.loads(streets_along_geojson(shapes, settings.FIELD_MAP_CORRIDOR_M)) if shapes else empty
        pad = settings.FIELD_MAP_CORRIDOR_M / 111_000 * 2
        xs = [p.x for p in points] + ([route.geometry.extent[0], route.geometry.extent[2]] if route.geometry else [])
        ys = [p.y for p in points] + ([route.geometry.extent[1], route.geometry.extent[3]] if route.geometry else [])
        box = (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad) if xs else None
        try:
            wards = json.loads(
                outlines_geojson("wards", route.plan.service_date, tolerance=0.0001, within=box, digits=5)
            )
        except LayerNotLoaded:
            wards = None
        response = Response({"streets": streets, "wards": wards})
        response["Cache-Control"] = "private, max-age=3600"
        return response
