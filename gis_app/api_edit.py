"""Staff correct a filed request: move its pin or address, change its type. Each change goes through the domain
verbs (relocate, change_type), which decide ward, department and due date again and write the audit trail;
the clerk who filed a request may correct it during the call, as may staff who change requests."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gis_app.api import RequestSerializer, _bad, _get, _sees_contact
from gis_app.intake import IntakeError, locate
from gis_app.models import ServiceType
from gis_app.tickets import TicketError
from gis_app.transitions import StaleVersion, TransitionError, change_type, relocate


class CanCorrect(permissions.BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (user.has_perm("gis_app.add_servicerequest") or user.has_perm("gis_app.change_servicerequest"))
        )


class EditSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The version you read; a stale one gets 409.")
    lon = serializers.CharField(required=False, allow_blank=True)
    lat = serializers.CharField(required=False, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    service_code = serializers.CharField(required=False, allow_blank=True, max_length=60)


class RequestEdit(APIView):
    permission_classes = [CanCorrect]

    @extend_schema(request=EditSerializer, responses={200: RequestSerializer})
    def post(self, request: Request, ticket: str) -> Response:
        ser = EditSerializer(data=request.data)
        if not ser.is_valid():
            field_name, errors = next(iter(ser.errors.items()))
            return _bad(field_name, " ".join(str(e) for e in errors))
        d = ser.validated_data
        try:
            req = _get(ticket)
        except TicketError as exc:
            return _bad("ticket", str(exc))
        try:
            if d.get("lon") or d.get("lat") or d.get("address"):
                where = locate(d.get("lon"), d.get("lat"), d.get("address", ""), "pin" if d.get("lon") else "address")
                req = relocate(
                    req, where.location, address=where.address, by=request.user, expected_version=d["version"]
                )
            if d.get("service_code") and d["service_code"] != req.service_type.code:
                stype = ServiceType.objects.filter(code=d["service_code"], active=True).first()
                if stype is None:
                    return _bad("service_code", f"unknown service type {d['service_code'][:60]!r}")
                req = change_type(req, stype, by=request.user)
        except IntakeError as exc:
            return _bad(exc.field, exc.message)
        except StaleVersion as exc:
            return _bad("version", str(exc), status.HTTP_409_CONFLICT)
        except TransitionError as exc:
            return _bad("request", str(exc))
        return Response(RequestSerializer(_get(req.ticket), context={"contact": _sees_contact(request)}).data)
