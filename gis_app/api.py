"""Staff intake API: create a request, read it with its history, move it through its lifecycle."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis_app import dedup
from gis_app.audit import record
from gis_app.choices import Channel, LocatedBy, NotifyVia
from gis_app.dedup import issue_counts
from gis_app.intake import IntakeData, IntakeError, Located, create_request, locate
from gis_app.models import DESCRIPTION_MAX, RequestEvent, ServiceRequest, ServiceType
from gis_app.placement import place_requests
from gis_app.privacy import mask_personal
from gis_app.tickets import TicketError, normalize_ticket
from gis_app.transitions import (
    MOVES,
    StaleVersion,
    TransitionError,
    allowed_verbs,
    apply,
    complete_with_duplicates,
)
from layers.coords import CoordinateError, point_from_lonlat
from layers.http import error
from layers.lookup import LayerNotLoaded, district_code, district_codes


class HasPerm(permissions.BasePermission):
    perm = ""

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(self.perm))


class CanAdd(HasPerm):
    perm = "gis_app.add_servicerequest"


class CanView(HasPerm):
    perm = "gis_app.view_servicerequest"


class CanChange(HasPerm):
    perm = "gis_app.change_servicerequest"


class IntakeSerializer(serializers.Serializer):
    service_code = serializers.CharField(help_text="The service type's code (GET /api/services/).")
    lon = serializers.CharField(required=False, allow_blank=True, help_text="Longitude, WGS84 (omit for no place).")
    lat = serializers.CharField(required=False, allow_blank=True, help_text="Latitude, WGS84.")
    address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    location_note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=300,
        help_text="Where the caller says it is, when no pin or address can be placed: filed 'location to confirm'.",
    )
    located_by = serializers.ChoiceField(choices=LocatedBy.choices, default=LocatedBy.PIN)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=DESCRIPTION_MAX, help_text=f"At most {DESCRIPTION_MAX} characters."
    )
    attributes = serializers.DictField(required=False, default=dict, help_text="Answers to the type's questions.")
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.PHONE)
    reporter_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    reporter_email = serializers.EmailField(required=False, allow_blank=True)
    reporter_phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    anonymous = serializers.BooleanField(default=False)
    notify_via = serializers.ChoiceField(choices=NotifyVia.choices, default=NotifyVia.NONE)
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE, help_text="The caller's language for messages."
    )
    duplicate_of = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text="Ticket of the issue the caller is attached to (from candidates).",
    )


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = RequestEvent
        fields = ["at", "verb", "actor_label", "old", "new", "note"]


class RequestSerializer(serializers.ModelSerializer):
    service_code = serializers.CharField(source="service_type.code")
    department = serializers.CharField(source="department.code")
    department_name = serializers.CharField(source="department.name", read_only=True)
    lon = serializers.SerializerMethodField()
    lat = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()
    history = EventSerializer(source="events", many=True, read_only=True)
    duplicate_of = serializers.CharField(
        source="parent.ticket",
        default=None,
        allow_null=True,
        read_only=True,
        help_text="The issue this request repeats (its root), if any.",
    )
    counts = serializers.SerializerMethodField(help_text="Raw requests, distinct reporters, anonymous reports.")
    district = serializers.SerializerMethodField(
        help_text="The district's identifier as the city writes it ('3', '09410', 'District 3B'); ward_number is "
        "the number it is kept under."
    )

    class Meta:
        model = ServiceRequest
        fields = [
            "ticket",
            "service_code",
            "status",
            "lon",
            "lat",
            "address",
            "located_by",
            "location_note",
            "ward_number",
            "district",
            "community_area_number",
            "department",
            "department_name",
            "description",
            "attributes",
            "channel",
            "due_at",
            "requested_at",
            "updated_at",
            "closed_at",
            "closure_reason",
            "version",
            "allowed_actions",
            "duplicate_of",
            "counts",
            "history",
        ]

    def to_representation(self, instance: ServiceRequest) -> dict[str, Any]:
        """Whoever may not see reporter contact data reads descriptions and notes masked, and no record of who
        looked at contact data (the view passes `contact` when the reader holds view_reporter_contact)."""
        data = super().to_representation(instance)
        if not self.context.get("contact") and instance.service_type.sensitive:
            # A sensitive type's text is for the staff who handle it, not for every role that can read requests.
            data["description"] = "[withheld: sensitive request type]"
            data["attributes"] = {}
            data["history"] = [{**e, "note": ""} for e in data.get("history", []) if e.get("verb") != "contact_viewed"]
            return data
        if not self.context.get("contact"):
            data["description"] = mask_personal(data.get("description") or "")
            data["history"] = [
                {**e, "note": mask_personal(e.get("note") or "")}
                for e in data.get("history", [])
                if e.get("verb") != "contact_viewed"
            ]
        return data

    def get_district(self, obj: ServiceRequest) -> str | None:
        return district_code(obj.ward_number, district_codes(obj.ward_layer_id) if obj.ward_layer_id else {})

    def get_counts(self, obj: ServiceRequest) -> dict[str, int]:
        root = obj.parent or obj
        c = issue_counts(root)
        return {"raw_requests": c.raw_requests, "reporters": c.reporters, "anonymous": c.anonymous}

    def get_lon(self, obj: ServiceRequest) -> float | None:
        return obj.location.x if obj.location else None

    def get_lat(self, obj: ServiceRequest) -> float | None:
        return obj.location.y if obj.location else None

    def get_allowed_actions(self, obj: ServiceRequest) -> list[str]:
        return allowed_verbs(obj.status)


class RequestWithContactSerializer(RequestSerializer):
    class Meta(RequestSerializer.Meta):
        fields = [
            *RequestSerializer.Meta.fields,
            "reporter_name",
            "reporter_email",
            "reporter_phone",
            "anonymous",
            "notify_via",
        ]


def _bad(field_name: str, message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return error(f"{field_name}: {message}", code, field=field_name)


class RequestCreate(APIView):
    permission_classes = [CanAdd]

    @extend_schema(request=IntakeSerializer, responses={201: RequestSerializer})
    def post(self, request: Request) -> Response:
        ser = IntakeSerializer(data=request.data)
        if not ser.is_valid():
            field_name, errors = next(iter(ser.errors.items()))
            return _bad(field_name, " ".join(str(e) for e in errors))
        d = ser.validated_data
        try:
            where = locate(d.get("lon"), d.get("lat"), d.get("address", ""), d["located_by"])
        except IntakeError as exc:
            if not d.get("location_note", "").strip():
                return _bad(exc.field, exc.message)
            # The fallback after address, cross streets and pin: the caller's own words, placed later by staff.
            where = Located(None, d.get("address", ""), LocatedBy.NONE)
        location, address, located_by = where.location, where.address, where.located_by
        data = IntakeData(
            service_code=d["service_code"],
            location=location,
            address=address,
            located_by=located_by,
            description=d.get("description", ""),
            attributes=d.get("attributes", {}),
            channel=d["channel"],
            reporter_name=d.get("reporter_name", ""),
            reporter_email=d.get("reporter_email", ""),
            reporter_phone=d.get("reporter_phone", ""),
            anonymous=d["anonymous"],
            notify_via=d["notify_via"],
            location_note=d.get("location_note", ""),
            language=d["language"],
        )
        parent = None
        if d.get("duplicate_of"):
            try:
                parent = _get(d["duplicate_of"])
            except TicketError as exc:
                return _bad("duplicate_of", str(exc))
        try:
            with transaction.atomic():
                req = create_request(data, by=request.user, link_duplicates=False if parent else None)
                if parent is not None:
                    req = dedup.mark_duplicate_of(
                        req, parent, by=request.user, note=f"caller attached to {parent.ticket} at intake"
                    )
        except IntakeError as exc:
            return _bad(exc.field, exc.message)
        except TransitionError as exc:
            return _bad("duplicate_of", str(exc))
        req = _get(req.ticket)
        body = dict(RequestSerializer(req, context={"contact": _sees_contact(request)}).data)
        # Suggestions staff can attach the caller to (the auto-linked parent, if any, is duplicate_of).
        body["candidates"] = [c.as_dict() for c in dedup.for_request(req)] if req.parent_id is None else []
        return Response(body, status=status.HTTP_201_CREATED)


class CandidateList(APIView):
    """Open issues a report would repeat, before it is filed: staff attach the caller instead of a new request."""

    permission_classes = [CanAdd]

    @extend_schema(
        parameters=[
            OpenApiParameter(n, str, required=n in ("service_code", "lon", "lat"))
            for n in ("service_code", "lon", "lat", "address", "asset_id", "located_by")
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        q = request.query_params
        stype = ServiceType.objects.filter(code=q.get("service_code", ""), active=True).first()
        if stype is None:
            return _bad(
                "service_code", f"unknown service type {q.get('service_code', '')[:80]!r}; see GET /api/services/"
            )
        try:
            point = point_from_lonlat(q.get("lon"), q.get("lat"))
        except CoordinateError as exc:
            return _bad("location", str(exc))
        # Placed as the report would be filed: by its pin unless the caller says how (POST's own default).
        located_by = q.get("located_by", LocatedBy.PIN)
        if located_by not in LocatedBy.values:
            return _bad("located_by", f"located_by must be one of {', '.join(LocatedBy.values)}")
        found = dedup.candidates(
            stype, point, address=q.get("address", ""), asset_id=q.get("asset_id", ""), located_by=located_by
        )
        # Where each candidate is, so the page can draw them on the map (one query for all).
        places = dict(ServiceRequest.objects.filter(pk__in=[c.request_id for c in found]).values_list("pk", "location"))
        listed = []
        for c in found:
            p = places.get(c.request_id)
            listed.append({**c.as_dict(), "lon": p.x if p else None, "lat": p.y if p else None})
        return Response(
            {
                "radius_m": stype.dedup_radius_m,
                "window_days": stype.dedup_window_days,
                "auto_link_at": stype.dedup_threshold,
                "candidates": listed,
                "goes_to": routing_preview(stype, point),
            }
        )


def routing_preview(stype: ServiceType, point: Any) -> dict[str, Any] | None:
    """Where a request filed now would go and when it would be due (the clerk can tell the caller), decided by
    the same placement as filing (nothing is saved)."""
    draft = ServiceRequest(service_type=stype, location=point, requested_at=timezone.now())
    try:
        placement = place_requests([draft], tickets=False)[0]
    except LayerNotLoaded:
        return None
    if placement.ward is not None and not placement.ward.inside:
        return None
    due = timezone.localtime(draft.due_at) if draft.due_at else None
    return {
        "department": draft.department.name if draft.department_id else "",
        "ward": draft.ward_number,
        "due_at": due.isoformat() if due else None,
        "due_text": f"{due:%a %-d %b, %H:%M}" if due else "",
        "sla_text": stype.sla_text,
    }


def _sees_contact(request: Request) -> bool:
    return bool(request.user.has_perm("gis_app.view_reporter_contact"))


def _get(ticket: str) -> ServiceRequest:
    return get_object_or_404(
        ServiceRequest.objects.select_related("service_type", "department").prefetch_related("events"),
        ticket=normalize_ticket(ticket),
    )


class RequestDetail(APIView):
    permission_classes = [CanView]

    @extend_schema(responses={200: RequestWithContactSerializer})
    def get(self, request: Request, ticket: str) -> Response:
        try:
            req = _get(ticket)
        except TicketError as exc:
            return _bad("ticket", str(exc))
        if request.user.has_perm("gis_app.view_reporter_contact"):
            record(req, "contact_viewed", by=request.user, public=False, note="reporter contact shown to staff")
            return Response(RequestWithContactSerializer(req, context={"contact": True}).data)
        return Response(RequestSerializer(req).data)


class ActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=sorted(MOVES))
    version = serializers.IntegerField(help_text="The version you read; a stale one gets 409.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=DESCRIPTION_MAX)
    parent = serializers.CharField(  # type: ignore[assignment]  # a field named like Field.parent
        required=False, allow_blank=True, help_text="Ticket of the parent (duplicates)."
    )


class RequestAction(APIView):
    permission_classes = [CanChange]

    @extend_schema(request=ActionSerializer, responses={200: RequestSerializer})
    def post(self, request: Request, ticket: str) -> Response:
        ser = ActionSerializer(data=request.data)
        if not ser.is_valid():
            field_name, errors = next(iter(ser.errors.items()))
            return _bad(field_name, " ".join(str(e) for e in errors))
        try:
            req = _get(ticket)
            parent = _get(ser.validated_data["parent"]) if ser.validated_data.get("parent") else None
        except TicketError as exc:
            return _bad("ticket", str(exc))
        try:
            if ser.validated_data["action"] == "complete":  # the issue's duplicates close with it
                updated, _ = complete_with_duplicates(
                    req,
                    note=ser.validated_data.get("note", ""),
                    by=request.user,
                    expected_version=ser.validated_data["version"],
                )
            else:
                updated = apply(
                    req,
                    ser.validated_data["action"],
                    by=request.user,
                    note=ser.validated_data.get("note", ""),
                    parent=parent,
                    expected_version=ser.validated_data["version"],
                )
            if ser.validated_data["action"] == "mark_duplicate":
                dedup.reparent(updated, by=request.user)  # its own duplicates follow it to the root: no chains
        except StaleVersion as exc:
            return _bad("version", str(exc), status.HTTP_409_CONFLICT)
        except TransitionError as exc:
            return _bad("action", str(exc))
        return Response(RequestSerializer(_get(updated.ticket), context={"contact": _sees_contact(request)}).data)


class ServiceTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceType
        fields = ["code", "name", "group", "description", "location_required", "sla_text"]


class ServiceTypeList(generics.ListAPIView):
    queryset = ServiceType.objects.filter(active=True, sensitive=False)
    serializer_class = ServiceTypeSerializer
    permission_classes = [permissions.AllowAny]
