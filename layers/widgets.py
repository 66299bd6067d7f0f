"""An offline map widget for geometry fields in the admin.

Why: the stock GeoDjango widget loads OpenLayers and OSM tiles from the internet. This one uses the
vendored Leaflet and draws the city's own ward outlines as the basemap. The field's value travels as
GeoJSON (WKT is accepted too); a point field is set by clicking the map.
"""

from __future__ import annotations

from typing import Any

from django.contrib.gis.forms.widgets import BaseGeometryWidget
from django.urls import reverse


class OfflineMapWidget(BaseGeometryWidget):
    template_name = "layers/widgets/offline_map.html"
    map_srid = 4326
    basemap_kind = "wards"

    class Media:
        css = {"all": ("vendor/leaflet/leaflet.css", "layers/offline_map.css")}
        js = (
            "vendor/leaflet/leaflet.js",
            "vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
            "layers/offline_map.js",
        )

    def serialize(self, value: Any) -> str:
        return value.json if value else ""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["basemap_url"] = reverse("layers:basemap", kwargs={"kind": self.basemap_kind})
        return context
