"""The crew tablet API: pull the day's route (ETag/304), post stop events with photos; supervisors reopen.

A crew device sees only its own crew's routes and stops; anything else is a 404 (not 403), so the API
never confirms that another crew's route exists. Responses carry what a crew needs (ticket, type,
address, description, attributes, location, window, notes) and never reporter contact data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from django.db.models import Count, Prefetch
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from field_api.authentication import CrewDevice, DeviceTokenAuthentication
from field_api.crew.events import EventError, EventInput, ingest, parse_event
from field_api.crew.photos import PhotoError, check_photos
from field_api.models import EventKind, StopPhoto
from field_api.permissions import IsCrewDevice, IsSupervisor
from gis_app.models import ServiceRequest
from routing.models import PlanStatus, Route, Stop, StopStatus

VISIBLE_PLANS = (PlanStatus.PUBLISHED, PlanStatus.SUPERSEDED)


def _iso(when: dt.datetime | None) -> str | None:
    return timezone.localtime(when).isoformat() if when else None


def route_payload(route: Route) -> dict[str, Any]:
    stops = list(route.stops.all())
    photos: dict[int, list[dict[str, Any]]] = {}
    for p in StopPhoto.objects.filter(event__request__in=[s.request_id for s in stops],
                                      event__service_date=route.plan.service_date).select_related("event"):
        photos.setdefault(p.event.request_id, []).append(
            {"stage": p.stage, "url": p.image.url, "thumbnail": p.thumbnail.url})
    return {
        "route": route.pk, "plan": route.plan_id, "plan_status": route.plan.status,
        "date": route.plan.service_date.isoformat(), "version": route.version, "changes": route.changes,
        "crew": {"code": route.crew.code, "name": route.crew.name},
        "starts_at": _iso(route.starts_at), "ends_at": _iso(route.ends_at),
        "drive_minutes": round(route.drive_seconds / 60), "distance_km": round(route.distance_m / 1000, 1),
        "breaks": route.breaks,
        "geometry": {"type": "LineString", "coordinates": [list(c) for c in route.geometry.coords]}
        if route.geometry else None,
        "stops": [_stop(s, photos.get(s.request_id, [])) for s in stops],
    }


def _stop(s: Stop, photos: list[dict[str, Any]]) -> dict[str, Any]:
    r: ServiceRequest = s.request
    return {
        "id": s.pk, "sequence": s.sequence, "ticket": r.ticket,
        "service_type": {"code": r.service_type.code, "name": r.service_type.name,
                         "completion_requires_photo": r.service_type.completion_requires_photo},
        "address": r.address, "description": r.description, "attributes": r.attributes,
        "location": {"type": "Point", "coordinates": [r.location.x, r.location.y]} if r.location else None,
        "eta": _iso(s.eta), "window": {"start": _iso(s.window_start), "end": _iso(s.window_end)},
        "service_minutes": s.service_minutes, "status": s.status, "status_at": _iso(s.status_at),
        "locked": s.locked, "reporters": 1 + getattr(r, "n_duplicates", 0), "notes": s.flags, "photos": photos,
    }


def _routes_of(device: CrewDevice) -> Any:
    stops = Stop.objects.select_related("request__service_type").annotate(n_duplicates=Count("request__duplicates"))
    return (Route.objects.filter(crew=device.crew, plan__status__in=VISIBLE_PLANS)
            .select_related("plan", "crew").prefetch_related(Prefetch("stops", queryset=stops.order_by("sequence"))))


def _with_etag(request: Request, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, sort_keys=True, default=str).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        resp = Response(status=status.HTTP_304_NOT_MODIFIED)
    else:
        resp = Response(payload)
    resp["ETag"] = etag
    resp["Cache-Control"] = "private, no-cache"
    return resp


class CrewAPIView(APIView):
    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsCrewDevice]

    @property
    def device(self) -> CrewDevice:
        user = self.request.user
        assert isinstance(user, CrewDevice)
        return user


class TodaysRoute(CrewAPIView):
    @extend_schema(parameters=[OpenApiParameter("date", str, description="Service day, YYYY-MM-DD (default today)")],
                   summary="The crew's published route for a day, with ordered stops and street geometry")
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("date")
        try:
            day = dt.date.fromisoformat(raw) if raw else timezone.localdate()
        except ValueError:
            return Response({"detail": f"date must be YYYY-MM-DD; got {str(raw)[:40]!r}"}, status=400)
        route = _routes_of(self.device).filter(plan__service_date=day, plan__status=PlanStatus.PUBLISHED).first()
        if route is None:
            return Response({"detail": f"no published route for {self.device.crew.name} on {day}"}, status=404)
        return _with_etag(request, route_payload(route))


class RouteDetail(CrewAPIView):
    @extend_schema(summary="One of the crew's routes by id (404 for any other crew's)")
    def get(self, request: Request, pk: int) -> Response:
        route = _routes_of(self.device).filter(pk=pk).first()
        if route is None:
            raise Http404("no such route")
        return _with_etag(request, route_payload(route))


class StopEvents(CrewAPIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(summary="Post a stop event (client UUID + device time); replays return the first answer",
                   request={"application/json": dict, "multipart/form-data": dict})
    def post(self, request: Request, pk: int) -> Response:
        stop = (Stop.objects.filter(pk=pk, route__crew=self.device.crew, route__plan__status__in=VISIBLE_PLANS)
                .select_related("route__plan", "route__crew", "request").first())
        if stop is None:
            raise Http404("no such stop")
        data = request.data.dict() if hasattr(request.data, "dict") else dict(request.data)
        try:
            event = parse_event(data)
            checked = check_photos(request.FILES.getlist("photos"))
            result = ingest(stop, event, device=self.device.token, photos=checked)
        except PhotoError as exc:
            return Response({"detail": str(exc), "field": "photos"}, status=400)
        except EventError as exc:
            return Response({"detail": str(exc), "field": exc.field_name}, status=exc.status)
        return Response(result.body, status=201 if result.created else 200)


class ReopenStop(APIView):
    """A supervisor reopens a completed stop (with a reason, audited): the request goes back to the pool."""

    permission_classes = [IsSupervisor]

    @extend_schema(summary="Reopen a completed stop (supervisors)", request=dict)
    def post(self, request: Request, pk: int) -> Response:
        stop = Stop.objects.filter(pk=pk).select_related("route__plan", "route__crew", "request").first()
        if stop is None:
            raise Http404("no such stop")
        reason = str(request.data.get("reason", "")).strip()
        if not reason:
            return Response({"detail": "reopening needs a reason", "field": "reason"}, status=400)
        if stop.status != StopStatus.COMPLETED:
            return Response({"detail": f"only a completed stop can be reopened; this one is {stop.status}"},
                            status=409)
        event = EventInput(id=str(uuid.uuid4()), kind=EventKind.REOPENED, device_time=timezone.now(),
                           note=reason[:2000])
        result = ingest(stop, event, supervisor=request.user)
        return Response(result.body, status=201)
