/* Offline maps: vendored Leaflet, with the city's own boundary outlines as the basemap.
   gis311.basemap(map, url) draws outlines; the admin widget (.offline-map) edits a GeoJSON field. */
(function () {
  "use strict";
  var gis311 = (window.gis311 = window.gis311 || {});

  // Text a resident or a server message supplies, made safe to put inside HTML (pages build popups and lists
  // as HTML strings: every value that is not our own markup goes through this).
  gis311.esc = function (value) {
    return String(value === undefined || value === null ? "" : value).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch];
    });
  };

  gis311.basemap = function (map, url, opts) {
    opts = opts || {};
    var layer = L.geoJSON(null, {
      style: { color: opts.color || "#777", weight: 1, fillColor: "#fff", fillOpacity: opts.fill ? 0.25 : 0 },
      interactive: !!opts.interactive,
      onEachFeature: function (f, lyr) {
        if (opts.labels !== false && f.properties && f.properties.label_point) {
          var p = f.properties.label_point;
          L.tooltip({ permanent: true, direction: "center", className: "area-label" })
            .setContent(String(f.properties.number)).setLatLng([p[1], p[0]]).addTo(map);
        }
        if (opts.onEachFeature) opts.onEachFeature(f, lyr);
      },
    }).addTo(map);
    return fetch(url).then(function (r) {
      if (!r.ok) throw new Error("basemap " + r.status);
      return r.json();
    }).then(function (fc) {
      layer.addData(fc);
      if (fc.layer && map.attributionControl) map.attributionControl.addAttribution(fc.layer.name);
      return layer;
    });
  };

  /* Street lines from our own street layers when zoomed in, with each network's attribution
     (OSM data is ODbL: the attribution must show wherever its streets are drawn). */
  gis311.streets = function (map, url, minZoom) {
    minZoom = minZoom || 15;
    var layer = L.geoJSON(null, {
      style: { color: "#9a8f80", weight: 1.5 },
      onEachFeature: function (f, lyr) {
        if (f.properties && f.properties.name) lyr.bindTooltip(gis311.esc(f.properties.name), { sticky: true });
      },
    }).addTo(map);
    var shown = [];
    function refresh() {
      layer.clearLayers();
      shown.forEach(function (a) { map.attributionControl.removeAttribution(a); });
      shown = [];
      if (map.getZoom() < minZoom) return;
      var b = map.getBounds();
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); });
      fetch(url + "?bbox=" + bbox.join(",")).then(function (r) { return r.ok ? r.json() : null; }).then(function (fc) {
        if (!fc) return;
        layer.addData(fc);
        fc.networks.forEach(function (n) {
          var a = n.attribution || n.name;
          if (a && shown.indexOf(a) < 0) { shown.push(a); map.attributionControl.addAttribution(a); }
        });
      });
    }
    map.on("moveend", refresh);
    return layer;
  };

  function initWidget(el) {
    var input = document.getElementById(el.dataset.input);
    var map = L.map(el, { zoomSnap: 0.25 });
    map.attributionControl.setPrefix("Leaflet");
    var shape = L.geoJSON(null, { style: { color: "#c0392b", weight: 2 } }).addTo(map);
    function draw() {
      shape.clearLayers();
      var raw = (input.value || "").trim();
      if (raw.charAt(0) === "{") {
        try { shape.addData(JSON.parse(raw)); } catch (e) { /* invalid JSON: the form will say so */ }
      }
    }
    draw();
    gis311.basemap(map, el.dataset.basemap, { labels: false }).then(function (base) {
      var b = shape.getLayers().length ? shape.getBounds() : base.getBounds();
      if (b.isValid()) map.fitBounds(b, { maxZoom: 16 });
    }).catch(function () {
      if (shape.getLayers().length) map.fitBounds(shape.getBounds(), { maxZoom: 16 });
      else map.setView([0, 0], 2);
    });
    if (el.dataset.geomType === "Point" && !el.dataset.disabled) {
      map.on("click", function (e) {
        input.value = JSON.stringify({ type: "Point", coordinates: [+e.latlng.lng.toFixed(7), +e.latlng.lat.toFixed(7)] });
        draw();
      });
    }
    input.addEventListener("change", draw);
  }
  gis311.initWidget = initWidget;

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".offline-map").forEach(initWidget);
  });
})();
