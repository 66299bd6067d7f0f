"""Administrators issue crew device tokens and Open311 api_keys here: a key is shown once, then only its prefix."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from field_api.models import DeviceToken, Open311Key, StopEvent


class IssuedKeyAdmin(admin.ModelAdmin):
    """Keys are issued, never edited: saving the form issues one and shows the raw key once; revoking is an
    action. Subclasses say how to issue from the form and what to call the key."""

    actions = ["revoke"]
    noun = "key"

    def issue(self, request: HttpRequest, obj: Any) -> tuple[Any, str, str]:
        """(the new key, its raw secret, whose it is)."""
        raise NotImplementedError

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        key, raw, whose = self.issue(request, obj)
        obj.pk = key.pk
        obj.__dict__.update(key.__dict__)
        self.message_user(
            request,
            f"{self.noun.capitalize()} for {whose}: {raw}  — copy it now; it is not shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for key in queryset:
            key.revoke()
        self.message_user(request, f"{queryset.count()} {self.noun}(s) revoked")


@admin.register(DeviceToken)
class DeviceTokenAdmin(IssuedKeyAdmin):
    list_display = ["crew", "name", "prefix", "created_at", "last_seen_at", "revoked_at"]
    list_filter = ["crew__department", "revoked_at"]
    fields = ["crew", "name"]
    noun = "device token"

    def issue(self, request: HttpRequest, obj: DeviceToken) -> tuple[DeviceToken, str, str]:
        token, raw = DeviceToken.issue(obj.crew, obj.name, by=request.user)
        return token, raw, f"{token.crew.name} / {token.name}"


@admin.register(Open311Key)
class Open311KeyAdmin(IssuedKeyAdmin):
    list_display = ["name", "prefix", "contact_email", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    fields = ["name", "contact_email"]
    noun = "Open311 api_key"

    def issue(self, request: HttpRequest, obj: Open311Key) -> tuple[Open311Key, str, str]:
        key, raw = Open311Key.issue(obj.name, obj.contact_email)
        return key, raw, key.name


@admin.register(StopEvent)
class StopEventAdmin(admin.ModelAdmin):
    list_display = ["device_time", "kind", "request", "crew", "outcome", "received_at"]
    list_filter = ["kind", "outcome", "service_date"]
    readonly_fields = [f.name for f in StopEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
