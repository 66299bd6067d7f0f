"""Who may call what: crew devices see their own crew's work; supervisors may reopen stops."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from field_api.authentication import CrewDevice


class IsCrewDevice(BasePermission):
    message = "this endpoint is for crew devices: send Authorization: Device <token>"

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, CrewDevice)


class IsSupervisor(BasePermission):
    message = "only a dispatcher or supervisor may reopen a completed stop"

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and not isinstance(user, CrewDevice)
            and user.has_perm("routing.change_routeplan")
        )
