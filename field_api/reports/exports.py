"""Report maps as standalone HTML files made with folium (the planner's offline map: Leaflet inlined, our own
ward outlines instead of tiles), for a ward night or an e-mail, opening with no internet."""

from __future__ import annotations

import html
import json
from typing import Any

import folium
from django.conf import settings

from gis_app.planner.exports import offline_map
from layers.basemap import outlines_geojson
from layers.models import LayerKind

STATUS_COLOURS = {"overdue": "#c0392b", "open": "#e67e22", "closed": "#27ae60"}
SHADES = ["#f7f4f9", "#d4b9da", "#c994c7", "#df65b0", "#dd1c77", "#980043"]


def _outlines() -> dict[str, Any]:
    return dict(json.loads(outlines_geojson(LayerKind.WARDS)))


def _bounds(layer: Any) -> list[list[float]]:
    """The layer's [[south, west], [north, east]] (folium types its corners as possibly empty)."""
    return [[float(v or 0) for v in corner] for corner in layer.get_bounds()]


def ward_folium(ward: int, points: dict[str, Any], repeats: list[dict[str, Any]], label: str = "") -> str:
    """The ward outline, its listed requests coloured by state, its repeat locations; titled with the
    district as the city writes it (`label`, else its number)."""
    word = settings.CITY_DISTRICT_WORD.capitalize()
    fmap = offline_map(f"{word} {label or ward}: 311 requests")
    outline = {**_outlines()}
    outline["features"] = [f for f in outline["features"] if f["properties"]["number"] == ward]
    if outline["features"]:
        layer = folium.GeoJson(
            outline,
            name=f"{word} {label or ward}",
            style_function=lambda f: {"color": "#4b3575", "weight": 3, "fillOpacity": 0},
        ).add_to(fmap)
        fmap.fit_bounds(_bounds(layer))
    group = folium.FeatureGroup(name="Requests").add_to(fmap)
    for f in points["features"]:
        p = f["properties"]
        state = "overdue" if p["overdue"] else ("open" if p["status"] not in ("completed", "closed") else "closed")
        lon, lat = f["geometry"]["coordinates"]
        folium.CircleMarker(
            [lat, lon],
            radius=5,
            color="#333",
            weight=1,
            fill=True,
            fill_color=STATUS_COLOURS[state],
            fill_opacity=0.9,
            tooltip=html.escape(f"{p['ticket']} {p['type']} ({p['status']}), {p['address']}, opened {p['opened']}"),
        ).add_to(group)
    spots = folium.FeatureGroup(name="Repeat locations").add_to(fmap)
    for r in repeats:
        folium.CircleMarker(
            [r["lat"], r["lon"]],
            radius=8 + min(r["count"], 20) / 2,
            color="#222",
            fill=True,
            fill_color="#f1c40f",
            fill_opacity=0.6,
            tooltip=html.escape(f"{r['type']}: {r['count']} requests near {r['address']}"),
        ).add_to(spots)
    folium.LayerControl().add_to(fmap)
    return str(fmap.get_root().render())


def wards_folium(figures: dict[str, Any]) -> str:
    """Every ward shaded by open requests per km², with its figures on hover."""
    fmap = offline_map("311 requests by ward")
    by_ward = {w["ward"]: w for w in figures["wards"]}
    values = sorted(w["open_per_km2"] for w in figures["wards"] if w["open_per_km2"] is not None)
    cuts = [values[int(len(values) * q / len(SHADES))] for q in range(1, len(SHADES))] if values else []
    outlines = _outlines()
    for f in outlines["features"]:
        w = by_ward.get(f["properties"]["number"], {})
        f["properties"].update({k: w.get(k) for k in ("open", "overdue", "open_per_km2", "median_age")})

    def style(f: dict[str, Any]) -> dict[str, Any]:
        v = f["properties"].get("open_per_km2")
        shade = SHADES[sum(1 for c in cuts if v is not None and v >= c)] if v is not None else "#ffffff"
        return {"color": "#4b3575", "weight": 1, "fillColor": shade, "fillOpacity": 0.75}

    layer = folium.GeoJson(
        outlines,
        name="Open requests per km²",
        style_function=style,
        tooltip=folium.GeoJsonTooltip(
            fields=["number", "open", "overdue", "open_per_km2", "median_age"],
            aliases=[settings.CITY_DISTRICT_WORD.capitalize(), "Open", "Overdue", "Open per km²", "Median age (days)"],
        ),
    ).add_to(fmap)
    if outlines["features"]:
        fmap.fit_bounds(_bounds(layer))
    return str(fmap.get_root().render())
