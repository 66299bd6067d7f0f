"""Admin for the request domain. Locations use the offline map widget; the audit trail is read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest

from gis_app.audit import record
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
from gis_app.sla_alerts import declare_storm
from gis_app.transitions import TransitionError, assign_department, change_type, relocate
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
    # Where a request is, what it is and who handles it change only through the domain verbs (which re-route,
    # re-date and audit); the rest of the form is saved as it is, with an audit event naming what changed.
    ROUTED = ("location", "address", "service_type", "department")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # Django 6's default, chosen now

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # requests are filed at /intake/ or through the API, which place, date and number them

    def save_model(self, request: HttpRequest, obj: ServiceRequest, form: Any, change: bool) -> None:
        stored = ServiceRequest.objects.select_related("service_type", "department").get(pk=obj.pk)
        wanted = {f: getattr(obj, f) for f in self.ROUTED}
        others = [f for f in form.changed_data if f not in self.ROUTED]
        for f in self.ROUTED:
            setattr(obj, f, getattr(stored, f))
        if others:
            obj.save(update_fields=[*others, "updated_at"])
            record(
                obj,
                "edited",
                by=request.user,
                old={f: str(getattr(stored, f)) for f in others},
                new={f: str(getattr(obj, f)) for f in others},
                public=False,
                note="edited in the admin",
            )
        try:
            if "location" in form.changed_data or "address" in form.changed_data:
                relocate(obj, wanted["location"], address=wanted["address"], by=request.user)
            if "service_type" in form.changed_data:
                change_type(obj, wanted["service_type"], by=request.user)
            if "department" in form.changed_data:
                assign_department(obj, wanted["department"], by=request.user, note="changed in the admin")
        except TransitionError as exc:
            messages.error(request, f"Not changed: {exc}")


@admin.register(RequestEvent)
class RequestEventAdmin(admin.ModelAdmin):
    list_display = ["at", "request", "verb", "actor_label"]
    list_select_related = ["request"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


admin.site.register(Holiday)


class StormForm(forms.ModelForm):
    class Meta:
        model = StormMode
        fields = ["name", "service_types", "wards", "starts_at", "ends_at", "extension_hours"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "the storm must end after it starts")
        if data.get("extension_hours") is not None and data["extension_hours"] <= 0:
            self.add_error("extension_hours", "a positive number of hours")
        wards = data.get("wards") or []
        if not isinstance(wards, list) or not all(isinstance(w, int) and not isinstance(w, bool) for w in wards):
            self.add_error("wards", "a list of ward numbers, e.g. [1, 2, 32]; [] for the whole city")
        return data


@admin.register(StormMode)
class StormModeAdmin(admin.ModelAdmin):
    """Declaring a storm is a staff action: it extends due dates of open work filed in its window (and in its
    wards), each with an audit event, not only of requests filed from now on."""

    list_display = ["name", "starts_at", "ends_at", "extension_hours", "wards", "created_by"]
    filter_horizontal = ["service_types"]
    form = StormForm

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: StormMode, form: Any, change: bool) -> None:
        """The form's storm is declared (below, in save_related, once its types are known)."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        data = form.cleaned_data  # checked by StormForm: declare_storm's own checks cannot fail here
        storm = declare_storm(
            data["name"],
            list(data["service_types"]),
            data["starts_at"],
            data["ends_at"],
            data["extension_hours"],
            wards=list(data.get("wards") or []),
            by=request.user,
        )
        form.instance.pk = storm.pk
        messages.success(request, f"Storm '{storm.name}' declared: open work in its window was re-dated.")


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
