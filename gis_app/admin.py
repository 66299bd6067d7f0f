"""Admin for the request domain. Locations use the offline map widget; the audit trail is read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from gis_app.models import (
    Department,
    DepartmentRule,
    Holiday,
    Notification,
    RequestEvent,
    ServiceAttribute,
    ServiceRequest,
    ServiceType,
    SlaAlert,
    StormMode,
    Subscription,
    WebhookDelivery,
    WebhookEndpoint,
)
from layers.admin import OfflineMapAdmin


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "queue_email", "supervisor_email"]


class AttributeInline(admin.TabularInline):
    model = ServiceAttribute
    extra = 0


class DepartmentRuleInline(admin.TabularInline):
    model = DepartmentRule
    fk_name = "service_type"
    extra = 0


@admin.register(ServiceType)
class ServiceTypeAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "group",
        "department",
        "priority",
        "sla_kind",
        "sla_amount",
        "location_required",
        "sensitive",
        "active",
    ]
    list_filter = ["group", "department", "active", "sensitive"]
    search_fields = ["code", "name", "keywords"]
    inlines = [AttributeInline, DepartmentRuleInline]
    list_select_related = ["department"]


class EventInline(admin.TabularInline):
    model = RequestEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "verb", "actor", "actor_label", "old", "new", "note", "public"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ServiceRequest)
class ServiceRequestAdmin(OfflineMapAdmin):
    list_display = ["ticket", "service_type", "status", "ward_number", "department", "requested_at", "due_at"]
    list_filter = ["status", "department", "channel", "service_type__group"]
    search_fields = ["=ticket", "address", "external_id"]
    list_select_related = ["service_type", "department"]
    readonly_fields = [
        "ticket",
        "status",
        "version",
        "ward_number",
        "ward_layer",
        "community_area_number",
        "requested_at",
        "closed_at",
        "parent",
        "follow_up_of",
    ]
    inlines = [EventInline]


@admin.register(RequestEvent)
class RequestEventAdmin(admin.ModelAdmin):
    list_display = ["at", "request", "verb", "actor_label"]
    list_select_related = ["request"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


admin.site.register(Holiday)
admin.site.register(StormMode)
admin.site.register(Subscription)
admin.site.register(WebhookEndpoint)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "request", "kind", "channel", "to", "state", "attempts", "sent_at"]
    list_filter = ["state", "kind", "channel"]
    list_select_related = ["request"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "state", "attempts", "last_status", "delivered_at"]
    list_filter = ["state"]


@admin.register(SlaAlert)
class SlaAlertAdmin(admin.ModelAdmin):
    list_display = ["at", "request", "level"]
    list_filter = ["level"]
