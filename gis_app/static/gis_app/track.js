// The track page's small map: where the issue is, on the city's own ward outlines and streets (no tile server).
(function () {
  var el = document.getElementById("where-map");
  if (!el) return;
  var at = [Number(el.dataset.lat), Number(el.dataset.lon)];
  var map = L.map(el, { zoomSnap: 0.5, scrollWheelZoom: false });
  map.attributionControl.setPrefix("Leaflet");
  gis311.basemap(map, el.dataset.basemap).catch(function () { /* outlines are optional */ });
  gis311.cityLayers(map);
  L.circleMarker(at, { radius: 8, color: "#c0392b", weight: 3 }).addTo(map);
  map.setView(at, 17);
  document.body.dataset.mapReady = "1";
})();
