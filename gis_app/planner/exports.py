"""A stored run as files a planner can send: GeoJSON and CSV of repeat locations and of the hot-spot cells, and a
standalone HTML map made with folium that opens with no internet (our vendored Leaflet inlined into the file:
folium's own page fetches Leaflet, jQuery and Bootstrap from CDNs)."""

from __future__ import annotations

import base64
import csv
import html
import io
from pathlib import Path
from typing import Any

import folium
from django.conf import settings

from gis_app.planner.stats import cell_polygon

LEAFLET = Path(settings.BASE_DIR) / "layers" / "static" / "vendor" / "leaflet"
CELL_FIELDS = ["cell", "count", "expected", "z", "p", "q", "bin", "significant", "recent", "earlier", "trend",
               "trend_q", "label"]  # fmt: skip
REPEAT_FIELDS = ["type", "type_name", "lon", "lat", "address", "ward", "count", "first", "last", "open", "came_back",
                 "reopened", "tickets"]  # fmt: skip
COLOURS = {99: "#b2182b", 95: "#ef8a62", 90: "#fddbc7", -90: "#d1e5f0", -95: "#67a9cf", -99: "#2166ac"}


def shown_cells(result: dict[str, Any], every: bool = False) -> list[dict[str, Any]]:
    """The cells worth drawing, one dict each: significant ones and those with an emerging label (or all, for
    the export). The run stores them column-wise."""
    cols = result.get("cells") or {}
    if not cols or not cols.get("cell"):
        return []
    n = len(cols["cell"])
    expected = cols.get("expected") or [None] * n
    rows = range(n) if every else [i for i in range(n) if cols["bin"][i] or cols["label"][i]]
    return [{k: (expected[i] if k == "expected" else cols[k][i]) for k in CELL_FIELDS} for i in rows]


def cells_geojson(result: dict[str, Any], every: bool = True) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [cell_polygon(c["cell"])]},
                "properties": {k: c[k] for k in CELL_FIELDS},
            }
            for c in shown_cells(result, every)
        ],
    }


def repeats_geojson(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": {k: v for k, v in r.items() if k not in ("lon", "lat")},
            }
            for r in result.get("repeats", [])
        ],
    }


def _csv(fields: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    w.writeheader()
    for row in rows:
        # A leading = + - @ would be run as a formula by a spreadsheet (addresses are residents' text).
        w.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()})
    return out.getvalue()


def cells_csv(result: dict[str, Any]) -> str:
    return _csv(CELL_FIELDS, shown_cells(result, every=True))


def repeats_csv(result: dict[str, Any]) -> str:
    rows = [{**r, "tickets": " ".join(x["ticket"] for x in r["requests"])} for r in result.get("repeats", [])]
    return _csv(REPEAT_FIELDS, rows)


def _inlined_css() -> str:
    """Leaflet's stylesheet with its images (the layer switcher's icon) as data URIs: a file opened with no
    network cannot fetch images/layers.png beside it."""
    css = (LEAFLET / "leaflet.css").read_text(encoding="utf-8")
    for name in ("layers-2x.png", "layers.png", "marker-icon.png"):
        data = base64.b64encode((LEAFLET / "images" / name).read_bytes()).decode()
        css = css.replace(f"url(images/{name})", f"url(data:image/png;base64,{data})")
    return css


class OfflineMap(folium.Map):
    """folium's map with no CDN assets: Leaflet goes into the page itself (see `folium_map`)."""

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []


def offline_map(title: str) -> OfflineMap:
    """A folium map for a file that opens with no internet: no tiles, Leaflet and its images in the page."""
    fmap = OfflineMap(tiles=None, control_scale=True)
    fmap.get_root().header.add_child(  # type: ignore[attr-defined]
        folium.Element(
            f"<title>{html.escape(title)}</title>"
            f"<style>{_inlined_css()}</style>"
            f"<script>{(LEAFLET / 'leaflet.js').read_text(encoding='utf-8')}</script>"
        )
    )
    return fmap


def folium_map(result: dict[str, Any], outlines: dict[str, Any] | None, title: str) -> str:
    """One HTML file: ward outlines (our own layer, no tiles), hot and cold cells, repeat locations."""
    fmap = offline_map(title)
    if outlines and outlines.get("features"):
        folium.GeoJson(
            outlines,
            name=settings.CITY_DISTRICTS_WORD.capitalize(),
            style_function=lambda f: {"color": "#777", "weight": 1, "fillOpacity": 0},
        ).add_to(fmap)
    cells = cells_geojson(result, every=False)
    if cells["features"]:
        folium.GeoJson(
            cells,
            name="Hot and cold spots (Gi*, FDR)",
            style_function=lambda f: {
                "color": "#555",
                "weight": 0.5,
                "fillColor": COLOURS.get(f["properties"]["bin"], "#ffffff"),
                "fillOpacity": 0.7 if f["properties"]["bin"] else 0.2,
            },
            tooltip=folium.GeoJsonTooltip(fields=["count", "z", "q", "bin", "label"]),
        ).add_to(fmap)
    group = folium.FeatureGroup(name="Repeat locations").add_to(fmap)
    for r in result.get("repeats", [])[:2000]:
        folium.CircleMarker(
            [r["lat"], r["lon"]],
            radius=4 + min(r["count"], 20) / 2,
            color="#222",
            fill=True,
            fill_color="#f1c40f",
            fill_opacity=0.9,
            tooltip=html.escape(f"{r['type_name']}: {r['count']} requests, {r['first']} to {r['last']}"),
        ).add_to(group)
    # A street-scale cell is a few pixels at city zoom: a dot in its colour (over the repeat markers) keeps every
    # significant cell visible.
    dots = folium.FeatureGroup(name="Hot and cold cells (dots)").add_to(fmap)
    for c in cells["features"]:
        if c["properties"]["bin"]:
            ring = c["geometry"]["coordinates"][0][:-1]
            lat = sum(p[1] for p in ring) / len(ring)
            lon = sum(p[0] for p in ring) / len(ring)
            folium.CircleMarker([lat, lon], radius=5, color="#333", weight=1, fill=True,
                                fill_color=COLOURS[c["properties"]["bin"]], fill_opacity=0.9).add_to(dots)  # fmt: skip
    folium.LayerControl().add_to(fmap)
    bounds = _bounds(result)
    if bounds:
        fmap.fit_bounds(bounds, max_zoom=16)  # one small cell still shows its streets' wards around it
    return fmap.get_root().render()


def _bounds(result: dict[str, Any]) -> list[list[float]] | None:
    pts: list[tuple[float, float]] = [(r["lon"], r["lat"]) for r in result.get("repeats", [])]
    for c in shown_cells(result)[:5000]:
        pts.extend((x, y) for x, y in cell_polygon(c["cell"]))
    if not pts:
        return None
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return [[min(ys), min(xs)], [max(ys), max(xs)]]
