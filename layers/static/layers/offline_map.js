/* The city map every page uses, with no internet: vendored Leaflet and Leaflet.VectorGrid over our own
   vector tiles. gis311.cityLayers(map) draws the city (outlines, streets, their names); gis311.basemap(map,
   url) adds one boundary layer as GeoJSON for pages that shade or click areas; the admin widget
   (.offline-map) edits a GeoJSON field on the same map. */
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

  // The city's word for its districts ("ward", "supervisor district"), as the page's nav carries it.
  // gis311.word("district") → "ward"; gis311.word("District") → "Ward"; "districts" for the plural.
  gis311.word = function (key) {
    var nav = document.querySelector("[data-district]");
    var one = (nav && nav.dataset.district) || "ward", many = (nav && nav.dataset.districts) || one + "s";
    var w = key.toLowerCase() === "districts" ? many : one;
    return key.charAt(0) === "D" ? w.charAt(0).toUpperCase() + w.slice(1) : w;
  };

  gis311.basemap = function (map, url, opts) {
    opts = opts || {};
    var layer = L.geoJSON(null, {
      // The city map draws the outlines and numbers; this layer adds a light fill and the shapes to fit or click.
      style: { stroke: !!opts.color, color: opts.color, weight: 1, fillColor: "#fff", fillOpacity: opts.fill ? 0.12 : 0 },
      interactive: !!opts.interactive,
      onEachFeature: opts.onEachFeature,
    }).addTo(map);
    return fetch(url).then(function (r) {
      if (!r.ok) throw new Error("basemap " + r.status);
      return r.json();
    }).then(function (fc) {
      layer.addData(fc);
      // Where a page opens: the city's main body (view_bbox leaves out far specks such as offshore islets
      // that belong to a district but would shrink the whole city to a corner of the map).
      var v = fc.view_bbox;
      layer.cityBounds = v ? L.latLngBounds([v[1], v[0]], [v[3], v[2]]) : layer.getBounds();
      if (fc.layer && map.attributionControl) map.attributionControl.addAttribution(fc.layer.name);
      return layer;
    });
  };

  /* The city map: vector tiles built by PostGIS from our own layers (/tiles/city.json says where, and whose
     data they draw: OSM's ODbL notice shows wherever its streets are). Ward and community-area outlines with
     their numbers at every zoom, major streets citywide, every street from zoom 13, and street names written
     along the streets from zoom 15. Names and numbers are page text (a label layer above the tiles), so they
     stay sharp, can be read by a screen reader or a test, and never turn upside down. */
  var TILEJSON = "/tiles/city.json";
  var MAJOR = /^(motorway|trunk|primary|secondary|tertiary|arterial)/;

  function streetStyle(p, z) {
    var major = MAJOR.test(p["class"] || "");
    return { stroke: true, fill: false, color: major ? "#b59f7b" : "#c9c0b2", opacity: 1,
             weight: major ? (z >= 16 ? 5 : z >= 13 ? 3 : 1.5) : (z >= 17 ? 4 : z >= 15 ? 2.5 : 1) };
  }
  function areaStyle(p, z) {
    if (p.kind === "wards") return { stroke: true, fill: false, color: "#6b4f9e", weight: z >= 14 ? 2.5 : 1.5, opacity: 0.9 };
    return { stroke: true, fill: false, color: "#8c8c8c", weight: 1, dashArray: "4 4", opacity: 0.8 };
  }

  function label(latlng, text, cls, angle) {
    var outer = document.createElement("div"), inner = document.createElement("span");
    inner.textContent = text;
    inner.className = "map-label-text";
    inner.style.transform = "translate(-50%, -50%)" + (angle ? " rotate(" + angle + "deg)" : "");
    outer.appendChild(inner);
    return L.marker(latlng, {
      icon: L.divIcon({ className: "map-label " + cls, html: outer, iconSize: null }),
      interactive: false, keyboard: false, pane: "cityLabels",
    });
  }
  gis311.label = label;

  function tilePointToLatLng(map, coords, size, extent, xy) {
    var px = L.point(coords.x * size.x + (xy.x * size.x) / extent, coords.y * size.y + (xy.y * size.y) / extent);
    return map.unproject(px, coords.z);
  }

  var CityTiles = L.VectorGrid.Protobuf.extend({
    // Each tile's label layers become page labels, kept per tile and dropped with it; they are not drawn.
    _getVectorTilePromise: function (coords) {
      var self = this;
      return L.VectorGrid.Protobuf.prototype._getVectorTilePromise.call(this, coords).then(function (tile) {
        var group = L.layerGroup(), size = self.getTileSize();
        ["area_labels", "street_labels"].forEach(function (name) {
          var layer = tile.layers[name];
          if (!layer) return;
          layer.features.forEach(function (f) {
            var pt = f.geometry[0] && f.geometry[0][0], p = f.properties;
            if (!pt || !self._map) return;
            var ll = tilePointToLatLng(self._map, coords, size, layer.extent, pt);
            if (name === "street_labels") group.addLayer(label(ll, p.name, "street-name", p.angle));
            else if (p.kind === "wards") group.addLayer(label(ll, String(p.code || p.number), "ward-number"));
            else if (coords.z >= 12) group.addLayer(label(ll, (p.name ? p.name + " " : "") + "(" + (p.code || p.number) + ")", "area-name"));
          });
        });
        var key = self._tileCoordsToKey(coords);
        if (self._labels[key]) self._labels[key].remove();
        self._labels[key] = group;
        if (self._map) group.addTo(self._map);
        return tile;
      });
    },
  });

  gis311.cityLayers = function (map, opts) {
    opts = opts || {};
    gis311.lastMap = map;  // for page tests and the console: the map this page drew last
    if (!map.getPane("cityLabels")) {
      var pane = map.createPane("cityLabels");
      pane.style.zIndex = 450;  // above the tiles and drawn shapes, below markers and popups
      pane.style.pointerEvents = "none";
    }
    return fetch(opts.tilejson || TILEJSON).then(function (r) {
      if (!r.ok) throw new Error("city map " + r.status);
      return r.json();
    }).then(function (tj) {
      var layer = new CityTiles(tj.tiles[0], {
        pane: "tilePane", interactive: false, maxNativeZoom: tj.maxzoom, minZoom: tj.minzoom,
        rendererFactory: L.canvas.tile,  // one canvas per tile: thousands of streets draw fast, and add no DOM
        attribution: gis311.esc(tj.attribution), vectorTileLayerStyles: {
          areas: areaStyle, streets: streetStyle,
          area_labels: function () { return []; }, street_labels: function () { return []; },
        },
      });
      layer._labels = {};
      layer.on("tileunload", function (e) {
        var key = layer._tileCoordsToKey(e.coords);
        if (layer._labels[key]) { layer._labels[key].remove(); delete layer._labels[key]; }
      });
      layer.on("remove", function () {
        Object.keys(layer._labels).forEach(function (k) { layer._labels[k].remove(); });
        layer._labels = {};
      });
      layer.addTo(map);
      map.getContainer().dataset.cityMap = tj.version;
      return layer;
    });
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
    gis311.cityLayers(map).catch(function () { /* no tiles yet: the outlines below still show the city */ });
    gis311.basemap(map, el.dataset.basemap, { color: "#777" }).then(function (base) {
      var b = shape.getLayers().length ? shape.getBounds() : base.cityBounds;
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
