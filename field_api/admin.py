"""Administrators issue crew device tokens here: the key is shown once, then only its prefix."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from field_api.models import DeviceToken, Open311Key, StopEvent


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    list_display = ["crew", "name", "prefix", "created_at", "last_seen_at", "revoked_at"]
    list_filter = ["crew__department", "revoked_at"]
    fields = ["crew", "name"]
    actions = ["revoke"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: DeviceToken, form: Any, change: bool) -> None:
        token, raw = DeviceToken.issue(obj.crew, obj.name, by=request.user)
        obj.pk = token.pk
        obj.__dict__.update(token.__dict__)
        self.message_user(request, f"Device token for {token.crew.name} / {token.name}: {raw}  — copy it now; "
                                   "it is not shown again.", messages.WARNING)

    @admin.action(description="Revoke the selected device tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[DeviceToken]) -> None:
        for token in queryset:
            token.revoke()
        self.message_user(request, f"{queryset.count()} token(s) revoked")


@admin.register(StopEvent)
class StopEventAdmin(admin.ModelAdmin):
    list_display = ["device_time", "kind", "request", "crew", "outcome", "received_at"]
    list_filter = ["kind", "outcome", "service_date"]
    readonly_fields = [f.name for f in StopEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Open311Key)
class Open311KeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "contact_email", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    fields = ["name", "contact_email"]
    actions = ["revoke"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Open311Key, form: Any, change: bool) -> None:
        key, raw = Open311Key.issue(obj.name, obj.contact_email)
        obj.pk = key.pk
        obj.__dict__.update(key.__dict__)
        self.message_user(request, f"Open311 api_key for {key.name}: {raw}  — copy it now; it is not shown again.",
                          messages.WARNING)

    @admin.action(description="Revoke the selected api_keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Open311Key]) -> None:
        for key in queryset:
            key.revoke()
        self.message_user(request, f"{queryset.count()} key(s) revoked")
