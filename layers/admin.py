"""Admin for the layer models, with the offline map widget and reversible activation actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.gis.admin import GISModelAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from layers.importing import LayerActivationError, activate, retire, rollback_last
from layers.models import CommunityArea, LayerChange, LayerVersion, Ward
from layers.widgets import OfflineMapWidget


class OfflineMapAdmin(GISModelAdmin):
    """Base class for every admin with a geometry field: maps work with no internet."""

    gis_widget = OfflineMapWidget  # type: ignore[assignment]  # the stub types it as an instance


@admin.register(LayerVersion)
class LayerVersionAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "kind", "effective_from", "effective_to", "active", "feature_count", "imported_at"]
    list_filter = ["kind", "active"]
    readonly_fields = ["checksum", "feature_count", "counts", "report", "imported_at", "active", "file_name"]
    actions = ["activate_versions", "retire_versions", "rollback_last_change"]

    @admin.action(description="Activate (retires overlapping active versions of the same kind)")
    def activate_versions(self, request: HttpRequest, queryset: QuerySet[LayerVersion]) -> None:
        for version in queryset:
            report = activate(version, note=f"admin: {request.user}")
            self.message_user(request, "; ".join(report.lines()))

    @admin.action(description="Retire (stop answering lookups; rows are kept)")
    def retire_versions(self, request: HttpRequest, queryset: QuerySet[LayerVersion]) -> None:
        for version in queryset:
            report = retire(version, note=f"admin: {request.user}")
            self.message_user(request, "; ".join(report.lines()))

    @admin.action(description="Roll back the last activation/retirement of the selected kinds")
    def rollback_last_change(self, request: HttpRequest, queryset: QuerySet[LayerVersion]) -> None:
        for kind in sorted(set(queryset.values_list("kind", flat=True))):
            try:
                report = rollback_last(kind, note=f"admin: {request.user}")
            except LayerActivationError as exc:
                self.message_user(request, str(exc), level=messages.WARNING)
                continue
            self.message_user(request, "; ".join(report.lines()))


@admin.register(LayerChange)
class LayerChangeAdmin(admin.ModelAdmin):
    list_display = ["at", "kind", "action", "version", "rolled_back", "note"]
    list_filter = ["kind", "action"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class BoundaryAdmin(OfflineMapAdmin):
    list_display = ["number", "name", "layer_version"]
    list_filter = ["layer_version"]
    search_fields = ["name", "=number"]
    list_select_related = ["layer_version"]


@admin.register(Ward)
class WardAdmin(BoundaryAdmin):
    pass


@admin.register(CommunityArea)
class CommunityAreaAdmin(BoundaryAdmin):
    pass
