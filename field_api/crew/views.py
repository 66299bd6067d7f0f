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

import shapely
from django.contrib.gis.db.models.functions import AsWKB
from django.db import connection
from django.db.models import Count, FloatField, Func
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from field_api.authentication import CrewDevice, DeviceTokenAuthentication
from field_api.crew.events import (
    STOP_FIELDS,
    VISIBLE_PLANS,
    EventError,
    EventInput,
    StopRef,
    crew_stop,
    crews_stops,
    ingest,
    parse_event,
    stop_ref,
)
from field_api.crew.photo_links import photo_url
from field_api.crew.photos import PhotoError, check_photos
from field_api.crew.serializers import (
    ApiErrorSerializer,
    ContactReasonSerializer,
    CrewRouteSerializer,
    ReopenStopSerializer,
    ReporterContactSerializer,
    StopEventBatchResultSerializer,
    StopEventBatchSerializer,
    StopEventInputSerializer,
    StopEventResultSerializer,
    StopEventUploadSerializer,
)
from field_api.models import EventKind, StopEvent, StopPhoto
from field_api.permissions import IsCrewDevice, IsSupervisor
from gis_app.audit import record
from gis_app.compiled_query import NO_ID, CompiledOnce
from gis_app.models import ServiceRequest
from gis_app.privacy import mask_personal
from layers.http import error, error_body
from routing.models import PlanStatus, Route, Stop, StopStatus

BATCH_MAX = 200


def _iso(when: dt.datetime | None) -> str | None:
    return timezone.localtime(when).isoformat() if when else None


# What a tablet is sent of a route and its stops, read as plain rows. Why not model instances: a full pull built
# the route, every stop, its request (a geometry each) and its type as objects, about 3.5 ms of Python for 0.5 ms
# of SQL, on the path every device takes after every change.
_ROUTE_FIELDS = (
    "pk",
    "plan_id",
    "plan__status",
    "plan__service_date",
    "version",
    "changes",
    "crew__code",
    "crew__name",
    "starts_at",
    "ends_at",
    "drive_seconds",
    "distance_m",
    "breaks",
)
_STOP_FIELDS = (
    "id",
    "sequence",
    "request_id",
    "nearest_address",
    "eta",
    "window_start",
    "window_end",
    "service_minutes",
    "status",
    "status_at",
    "locked",
    "flags",
    "request__ticket",
    "request__service_type__code",
    "request__service_type__name",
    "request__service_type__completion_requires_photo",
    "request__address",
    "request__description",
    "request__attributes",
    "request__media_url",
)


_NO_DAY = dt.date(1, 1, 1)  # no plan is for this day
_ROUTE = CompiledOnce(
    lambda route_id: Route.objects.filter(pk=route_id).annotate(wkb=AsWKB("geometry")).values(*_ROUTE_FIELDS, "wkb"),
    NO_ID,
)
_STOPS = CompiledOnce(
    lambda route_id: (
        Stop.objects.filter(route_id=route_id)
        .order_by("sequence")
        .annotate(
            n_duplicates=Count("request__duplicates"),
            lon=Func("request__location", function="ST_X", output_field=FloatField()),
            lat=Func("request__location", function="ST_Y", output_field=FloatField()),
        )
        .values(*_STOP_FIELDS, "n_duplicates", "lon", "lat")
    ),
    NO_ID,
)
# The crew's published route for a day: what every pull (a 304 as well) looks up first.
_DAYS_ROUTE = CompiledOnce(
    lambda crew_id, day: (
        Route.objects.filter(crew=crew_id, plan__status=PlanStatus.PUBLISHED, plan__service_date=day)
        .order_by("pk")
        .values("id", "version", "plan__service_date")[:1]
    ),
    NO_ID,
    _NO_DAY,
)


def route_payload(route_id: int, *, with_photos: bool = True) -> dict[str, Any]:
    """The route as the crew API sends it (CrewRouteSerializer's fields), in three queries (two when the caller
    knows there are no photos that day)."""
    found = _ROUTE.rows(route_id)
    if not found:
        raise Route.DoesNotExist(f"no route {route_id}")
    route = found[0]
    stops = _STOPS.rows(route_id)
    photos: dict[int, list[dict[str, Any]]] = {}
    if with_photos:
        taken = StopPhoto.objects.filter(
            event__request__in=[s["request_id"] for s in stops], event__service_date=route["plan__service_date"]
        )
        for photo_id, request_id, stage in taken.values_list("id", "event__request_id", "stage"):
            photos.setdefault(request_id, []).append(
                {"stage": stage, "url": photo_url(photo_id, "image"), "thumbnail": photo_url(photo_id, "thumbnail")}
            )
    return {
        "route": route["pk"],
        "plan": route["plan_id"],
        "plan_status": route["plan__status"],
        "date": route["plan__service_date"].isoformat(),
        "version": route["version"],
        "changes": route["changes"],
        "crew": {"code": route["crew__code"], "name": route["crew__name"]},
        "starts_at": _iso(route["starts_at"]),
        "ends_at": _iso(route["ends_at"]),
        "drive_minutes": round(route["drive_seconds"] / 60),
        "distance_km": round(route["distance_m"] / 1000, 1),
        "breaks": route["breaks"],
        # Via shapely from the WKB PostGIS writes: no GEOS object is built for a long line.
        "geometry": {
            "type": "LineString",
            "coordinates": shapely.get_coordinates(shapely.from_wkb(bytes(route["wkb"]))).tolist(),
        }
        if route["wkb"]
        else None,
        "stops": [_stop(s, photos.get(s["request_id"], [])) for s in stops],
    }


def _stop(s: dict[str, Any], photos: list[dict[str, Any]]) -> dict[str, Any]:
    # The reported address, else the nearest one the layers gave when the stop was planned (marked as such).
    reported = s["request__address"]
    address = (reported, "reported") if reported.strip() else (s["nearest_address"], "nearest")
    if not address[0]:
        address = ("", "none")
    return {
        "id": s["id"],
        "sequence": s["sequence"],
        "ticket": s["request__ticket"],
        "service_type": {
            "code": s["request__service_type__code"],
            "name": s["request__service_type__name"],
            "completion_requires_photo": s["request__service_type__completion_requires_photo"],
        },
        "address": address[0],
        "address_source": address[1],
        # Contact data reaches a crew only by a logged action.
        "description": mask_personal(s["request__description"]),
        "attributes": s["request__attributes"],
        "location": {"type": "Point", "coordinates": [s["lon"], s["lat"]]} if s["lon"] is not None else None,
        "eta": _iso(s["eta"]),
        "window": {"start": _iso(s["window_start"]), "end": _iso(s["window_end"])},
        "service_minutes": s["service_minutes"],
        "status": s["status"],
        "status_at": _iso(s["status_at"]),
        "locked": s["locked"],
        "reporters": 1 + s["n_duplicates"],  # every caller: the request and each duplicate (on the stop)
        "notes": s["flags"],
        "photos": photos,
        "reporter_photo": s["request__media_url"],
    }


# What the route's validator covers, read in one statement: each stop's status, ETA, lock, notes and its
# request's version (any edit bumps it), in order, and the count and last id of the day's photos of those
# requests. Why raw: a tablet polls with If-None-Match all day, and two ORM queries (compiled on every poll) were
# most of a 304's time.
_ETAG_SQL = f"""
WITH s AS (
    SELECT s.id, s.sequence, s.status, s.status_at, s.eta, s.locked, s.flags, s.request_id, r.version
      FROM {Stop._meta.db_table} s JOIN {ServiceRequest._meta.db_table} r ON r.id = s.request_id
     WHERE s.route_id = %s
)
SELECT coalesce((SELECT json_agg(json_build_array(id, sequence, status, status_at, eta, locked, flags, request_id,
                                                  version) ORDER BY sequence, id) FROM s)::text, '[]'),
       (SELECT count(p.id)::text || ':' || coalesce(max(p.id), 0)::text
          FROM {StopPhoto._meta.db_table} p JOIN {StopEvent._meta.db_table} e ON e.id = p.event_id
         WHERE e.request_id IN (SELECT request_id FROM s) AND e.service_date = %s)
"""


def route_state(route_id: int, version: int, day: dt.date) -> tuple[str, bool]:
    """A validator from one narrow query (everything the payload shows changes one of these values: stop
    status/ETA/lock/notes, a request's version, which any edit bumps, a new photo, the route's version), and
    whether the day has any photo of the route's requests (none: the payload need not look for them)."""
    with connection.cursor() as cur:
        cur.execute(_ETAG_SQL, [route_id, day])
        stops, photos = cur.fetchone()
    key = json.dumps([route_id, version, stops, photos])
    return '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"', not photos.startswith("0:")


def _conditional(request: Request, route: tuple[int, int, dt.date]) -> Response:
    etag, photos = route_state(*route)
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        resp = Response(status=status.HTTP_304_NOT_MODIFIED)
    else:
        resp = Response(route_payload(route[0], with_photos=photos))
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
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "date", str, description="Service day, YYYY-MM-DD (default today), or 'next': today's or the next"
            )
        ],
        summary="The crew's published route for a day, with ordered stops and street geometry",
        responses={200: CrewRouteSerializer, 304: None, 400: ApiErrorSerializer, 404: ApiErrorSerializer},
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("date")
        today = timezone.localdate()
        if raw == "next":  # today's route, else the next one published (a weekend tablet shows Monday's)
            found = (
                Route.objects.filter(
                    crew=self.device.crew_id, plan__status=PlanStatus.PUBLISHED, plan__service_date__gte=today
                )
                .order_by("plan__service_date")
                .values_list("id", "version", "plan__service_date")
                .first()
            )
            day_text = f"on or after {today}"
        else:
            try:
                day = dt.date.fromisoformat(raw) if raw else today
            except ValueError:
                return error(f"date must be YYYY-MM-DD or 'next'; got {str(raw)[:40]!r}", 400)
            rows = _DAYS_ROUTE.rows(self.device.crew_id, day)
            found = (rows[0]["id"], rows[0]["version"], rows[0]["plan__service_date"]) if rows else None
            day_text = f"on {day}"
        if found is None:
            return error(f"no published route for {self.device.crew.name} {day_text}", 404)
        return _conditional(request, found)


class RouteDetail(CrewAPIView):
    @extend_schema(
        summary="One of the crew's routes by id (404 for any other crew's)",
        responses={200: CrewRouteSerializer, 304: None, 404: ApiErrorSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        found = (
            Route.objects.filter(pk=pk, crew=self.device.crew_id, plan__status__in=VISIBLE_PLANS)
            .values_list("id", "version", "plan__service_date")
            .first()
        )
        if found is None:
            raise Http404("no such route")
        return _conditional(request, found)


class StopEvents(CrewAPIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        summary="Post a stop event (client UUID + device time); replays return the first answer",
        request={"application/json": StopEventInputSerializer, "multipart/form-data": StopEventUploadSerializer},
        responses={
            201: StopEventResultSerializer,
            200: StopEventResultSerializer,
            400: ApiErrorSerializer,
            404: ApiErrorSerializer,
            409: ApiErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        stop = crew_stop(pk, self.device.crew_id)
        if stop is None:
            raise Http404("no such stop")
        data = request.data.dict() if hasattr(request.data, "dict") else dict(request.data)
        try:
            event = parse_event(data)
            checked = check_photos(request.FILES.getlist("photos"))
            result = ingest(stop, event, device=self.device.token, photos=checked)
        except PhotoError as exc:
            return error(str(exc), 400, field="photos")
        except EventError as exc:
            return error(str(exc), exc.status, field=exc.field_name)
        return Response(result.body, status=result.status_code)


class EventBatch(CrewAPIView):
    """An offline queue flushed at once: each event is taken (or refused) on its own, in the order given.

    Why: a tablet coming back into signal may hold hundreds of events; one request per event would cost a
    round trip each. Photos still go one event at a time (multipart) to the stop's events endpoint.
    """

    @extend_schema(
        summary="Post up to 200 queued stop events (JSON); one result per event, in order",
        request=StopEventBatchSerializer,
        responses={200: StopEventBatchResultSerializer, 400: ApiErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        items = request.data.get("events") if isinstance(request.data, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= BATCH_MAX:
            return error(f'expected {{"events": [...]}} with 1 to {BATCH_MAX} events', 400)
        # Stop ids are whole numbers; anything else (a list, an object) is that event's 404, never a crash.
        stop_ids = {i.get("stop") for i in items if isinstance(i, dict) and type(i.get("stop")) is int}
        refs = {
            ref.id: ref
            for ref in (
                StopRef(*row)
                for row in crews_stops(self.device.crew_id).filter(pk__in=list(stop_ids)).values_list(*STOP_FIELDS)
            )
        }
        results = []
        for item in items:
            if not isinstance(item, dict):
                results.append({"id": None, "status": 400, **error_body("each event must be an object", 400)})
                continue
            # The device's own id for the event, echoed so it can match answers; anything but a short text is
            # not an id it could match on.
            echo = item.get("id") if isinstance(item.get("id"), str) and len(item["id"]) <= 100 else None
            stop_id = item.get("stop")
            ref = refs.get(stop_id) if type(stop_id) is int else None
            if ref is None:
                results.append({"id": echo, "status": 404, **error_body("no such stop", 404, field="stop")})
                continue
            try:
                result = ingest(ref, parse_event(item), device=self.device.token)
            except EventError as exc:
                body = error_body(str(exc), exc.status, field=exc.field_name)
                results.append({"id": echo, "status": exc.status, **body})
                continue
            results.append({"id": echo, "status": result.status_code, **result.body})
        return Response({"results": results})


class StopContact(CrewAPIView):
    """The reporter's contact details for one of the crew's stops, given only with a reason and logged.

    Why an action of its own: a crew reads descriptions with phone numbers and e-mail addresses masked, but
    sometimes needs to call (a locked gate, a missing house number). Each look is an audit event on the request
    naming the crew and the reason, so a supervisor can see who looked and why.
    """

    @extend_schema(
        summary="The reporter's contact for one of the crew's stops (a reason is required; the look is logged)",
        request=ContactReasonSerializer,
        responses={
            200: ReporterContactSerializer,
            400: ApiErrorSerializer,
            404: ApiErrorSerializer,
            409: ApiErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        stop = crews_stops(self.device.crew_id).filter(pk=pk).select_related("request").first()
        if stop is None:
            raise Http404("no such stop")
        reason = str(request.data.get("reason", "") if isinstance(request.data, dict) else "").strip()
        if not reason:
            return error("say why the crew needs to reach the reporter (reason)", 400, field="reason")
        req = stop.request
        if req.anonymous or not (req.reporter_phone or req.reporter_email):
            return error("the reporter left no contact details (or chose to stay anonymous)", 409)
        record(req, "contact_viewed", actor_label=f"crew {self.device.crew.name}", public=False, note=reason[:500])
        return Response({"name": req.reporter_name, "phone": req.reporter_phone, "email": req.reporter_email})


class ReopenStop(APIView):
    """A supervisor reopens a completed stop (with a reason, audited): the request goes back to the pool."""

    permission_classes = [IsSupervisor]

    @extend_schema(
        summary="Reopen a completed stop (supervisors)",
        request=ReopenStopSerializer,
        responses={
            201: StopEventResultSerializer,
            400: ApiErrorSerializer,
            404: ApiErrorSerializer,
            409: ApiErrorSerializer,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        stop = stop_ref(Stop.objects.filter(pk=pk))
        if stop is None:
            raise Http404("no such stop")
        reason = str(request.data.get("reason", "")).strip()
        if not reason:
            return error("reopening needs a reason", 400, field="reason")
        if stop.status != StopStatus.COMPLETED:
            return error(f"only a completed stop can be reopened; this one is {stop.status}", 409)
        event = EventInput(
            id=str(uuid.uuid4()), kind=EventKind.REOPENED, device_time=timezone.now(), note=reason[:2000]
        )
        result = ingest(stop, event, supervisor=request.user)
        return Response(result.body, status=201)
