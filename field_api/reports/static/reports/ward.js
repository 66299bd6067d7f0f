/* A ward page's map: the city map, the ward outlined, its listed requests coloured by state. */
(function () {
  "use strict";
  var el = document.getElementById("ward-map"), ward = parseInt(el.dataset.ward, 10);
  var points = JSON.parse(document.getElementById("ward-points").textContent);
  var COLOURS = { overdue: "#c0392b", open: "#e67e22", closed: "#27ae60" };
  var map = L.map(el, { zoomSnap: 0.25 });
  map.attributionControl.setPrefix("Leaflet");
  map.setView([0, 0], 2);
  gis311.cityLayers(map).catch(function () { /* the outline still shows */ });
  gis311.basemap(map, el.dataset.basemap, {
    onEachFeature: function (f, lyr) {
      if (f.properties.number === ward) {
        lyr.setStyle({ stroke: true, color: "#111", weight: 3, fillOpacity: 0 });
        map.fitBounds(lyr.getBounds());
      }
    },
  }).then(function () { document.body.dataset.mapReady = "1"; });
  L.geoJSON(points, {
    pointToLayer: function (f, ll) {
      var p = f.properties, state = p.overdue ? "overdue" : (p.status === "completed" || p.status === "closed") ? "closed" : "open";
      return L.circleMarker(ll, { radius: 5, color: "#333", weight: 1, fillColor: COLOURS[state], fillOpacity: 0.9 })
        .bindTooltip(gis311.esc(p.ticket + " " + p.type + " (" + p.status + ") " + p.address));
    },
  }).addTo(map);
  document.getElementById("print").addEventListener("click", function () { window.print(); });
})();
