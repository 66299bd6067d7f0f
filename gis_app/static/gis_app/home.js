// The home page's script (served as a file: the Content-Security-Policy allows no inline scripts).
(function () {
  var el = document.getElementById("map"), box = document.getElementById("lookup");
  var map = L.map(el, { zoomSnap: 0.25 });
  map.attributionControl.setPrefix("Leaflet");
  map.setView([0, 0], 2);
  window.cityMap = map;  // for page tests and the console
  gis311.basemap(map, el.dataset.basemap, { fill: true }).then(function (base) {
    map.fitBounds(base.cityBounds);
    document.body.dataset.mapReady = "1";
  }).catch(function (e) { box.textContent = gis311.word("District") + " map not loaded: " + e.message; });
  gis311.cityLayers(map);
  // Open requests (public fields only) when zoomed in to a neighbourhood.
  var open = L.layerGroup().addTo(map);
  function refreshOpen() {
    open.clearLayers();
    if (map.getZoom() < 13) return;
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); });
    fetch(el.dataset.requests + "?bbox=" + bbox.join(",")).then(function (r) { return r.json(); }).then(function (fc) {
      fc.features.forEach(function (f) {
        var c = f.geometry.coordinates, p = f.properties;
        L.circleMarker([c[1], c[0]], { radius: 4, color: "#1f3a5f", weight: 1, fillOpacity: 0.7 })
          .bindPopup("<b>" + gis311.esc(p.type) + "</b><br>" + gis311.esc(p.status) + " · <a href='" + el.dataset.track +
                     encodeURIComponent(p.ticket) + "/'>" +
                     gis311.esc(p.ticket) + "</a>").addTo(open);
      });
    });
  }
  map.on("moveend", refreshOpen);
  var marker = null;
  map.on("click", function (e) {
    var url = el.dataset.where + "?lon=" + e.latlng.lng.toFixed(6) + "&lat=" + e.latlng.lat.toFixed(6);
    if (marker) marker.remove();
    marker = L.circleMarker(e.latlng, { radius: 6, color: "#c0392b" }).addTo(map);
    fetch(url).then(function (r) { return r.json(); }).then(function (d) {
      if (!d.ward) { box.textContent = d.detail; return; }
      var w = d.ward, html = "<b>" + gis311.esc(w.message) + "</b>";
      if (w.inside && w.near_edge) html += "<div class='warn'>Near a " + gis311.word("district") + " edge (" + w.edge_distance_m + " m).</div>";
      if (d.community_area && d.community_area.inside) {
        html += "<div>Community area " + gis311.esc(d.community_area.number) + ": " + gis311.esc(d.community_area.name) + "</div>";
      }
      html += "<div><small>" + gis311.esc(w.layer_name) + " · " + e.latlng.lat.toFixed(5) + ", " + e.latlng.lng.toFixed(5) +
        "</small></div>";
      box.innerHTML = html;
    });
  });
})();
