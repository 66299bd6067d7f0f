"""Crews, depots and plans in the admin (plans are made and published on the dispatcher page)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from layers.admin import OfflineMapAdmin
from routing.models import Crew, Depot, Route, RoutePlan, Stop


@admin.register(Depot)
class DepotAdmin(OfflineMapAdmin):
    list_display = ["code", "name", "address"]


@admin.register(Crew)
class CrewAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "department", "depot", "shift_start", "shift_end", "active"]
    list_filter = ["department", "active", "depot"]
    filter_horizontal = ["members"]


class StopInline(admin.TabularInline):
    model = Stop
    fields = ("sequence", "request", "eta", "window_start", "window_end", "status", "status_at", "locked", "flags")
    readonly_fields = (
        "sequence",
        "request",
        "eta",
        "window_start",
        "window_end",
        "status",
        "status_at",
        "locked",
        "flags",
    )
    raw_id_fields = ["request"]
    extra = 0
    can_delete = False


@admin.register(Route)
class RouteAdmin(OfflineMapAdmin):
    list_display = ["plan", "crew", "version", "starts_at", "ends_at", "drive_seconds"]
    list_filter = ["plan__service_date", "crew__department"]
    inlines = [StopInline]
    readonly_fields = ["plan", "crew", "version", "changes", "breaks"]


@admin.register(RoutePlan)
class RoutePlanAdmin(admin.ModelAdmin):
    list_display = ["id", "service_date", "department", "skill_group", "status", "created_at", "published_at"]
    list_filter = ["status", "department", "service_date"]
    readonly_fields = [f.name for f in RoutePlan._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # plans come from the planner (dispatcher page or plan_routes), not by hand

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
