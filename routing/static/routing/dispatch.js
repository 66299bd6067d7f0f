/* Dispatcher map: the city's own ward outlines as the basemap, each crew's route in its own colour, numbered
   stops with ETAs. Clicking a stop fills the pin/lock form. Works with no internet (vendored Leaflet). */
(function () {
  var COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
                 "#469990", "#800000", "#808000", "#000075", "#bfef45", "#dcbeff", "#aaffc3", "#ffd8b1"];
  function colour(i) { return COLOURS[i % COLOURS.length]; }
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("map");
    var map = L.map(el, { zoomSnap: 0.25 });
    map.attributionControl.setPrefix("Leaflet");
    map.setView([0, 0], 2);
    window.dispatchMap = map;
    var routes = L.featureGroup().addTo(map);
    gis311.basemap(map, el.dataset.basemap, { labels: false }).then(function (base) {
      map.fitBounds(base.getBounds());
      if (!el.dataset.plan) { document.body.dataset.mapReady = "1"; return; }
      return fetch(el.dataset.plan).then(function (r) { return r.json(); }).then(function (fc) {
        var stops = 0;
        fc.features.forEach(function (f) {
          var p = f.properties, c = colour(p.colour);
          if (p.kind === "route") {
            L.geoJSON(f, { style: { color: c, weight: 4, opacity: 0.8 } })
              .bindTooltip(p.crew_name + " · " + p.drive_minutes + " min driving").addTo(routes);
          } else {
            stops += 1;
            var xy = f.geometry.coordinates;
            var icon = L.divIcon({ className: "stop-label" + (p.locked ? " locked" : ""), iconSize: [20, 20],
                                   html: "<span style='color:" + c + "'>" + p.sequence + "</span>" });
            L.marker([xy[1], xy[0]], { icon: icon, title: p.ticket })
              .bindPopup("<b>" + gis311.esc(p.sequence) + ". " + gis311.esc(p.ticket) + "</b><br>" + gis311.esc(p.type) +
                         "<br>" + gis311.esc(p.crew) + " · ETA " + gis311.esc(p.eta) + " · " + gis311.esc(p.status) +
                         (p.locked ? " · locked" : ""))
              .on("click", function () {
                var t = document.getElementById("pin-ticket");
                if (t) t.value = p.ticket;
              })
              .addTo(routes);
          }
        });
        if (routes.getLayers().length) map.fitBounds(routes.getBounds().pad(0.05));
        document.body.dataset.stops = String(stops);
        document.body.dataset.mapReady = "1";
      });
    }).catch(function (e) { document.body.dataset.mapError = e.message; });
    if (el.dataset.waiting) {  // a plan run is queued on the worker: show the new draft when it lands
      var poll = setInterval(function () {
        fetch(el.dataset.latest).then(function (r) { return r.json(); }).then(function (d) {
          if (d.plan) { clearInterval(poll); location.search = location.search.replace(/&waiting=1/, "").replace(/&since=[^&]*/, "") + "&plan=" + d.plan; }
        });
      }, 3000);
    }
  });
})();
