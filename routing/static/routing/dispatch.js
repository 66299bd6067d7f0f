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
    gis311.cityLayers(map);  // the city map: streets named along them at street zoom
    gis311.basemap(map, el.dataset.basemap).then(function (base) {
      map.fitBounds(base.cityBounds);
      if (!el.dataset.plan) { document.body.dataset.mapReady = "1"; return; }
      return fetch(el.dataset.plan).then(function (r) { return r.json(); }).then(function (fc) {
        var stops = 0, legend = [];
        fc.features.forEach(function (f) {
          var p = f.properties, c = colour(p.colour);
          if (p.kind === "route") {
            L.geoJSON(f, { style: { color: c, weight: 4, opacity: 0.8 } })
              .bindTooltip(gis311.esc(p.crew_name) + " · " + gis311.esc(p.drive_minutes) + " min driving").addTo(routes);
            legend.push({ name: p.crew_name, colour: c, minutes: p.drive_minutes });
          } else {
            stops += 1;
            var xy = f.geometry.coordinates;
            var icon = L.divIcon({ className: "stop-label" + (p.locked ? " locked" : ""), iconSize: [20, 20],
                                   html: "<span style='color:" + c + "'>" + p.sequence + "</span>" });
            L.marker([xy[1], xy[0]], { icon: icon, title: p.ticket })
              .bindPopup("<b>" + gis311.esc(p.sequence) + ". " + gis311.esc(p.ticket) + "</b><br>" + gis311.esc(p.type) +
                         "<br>" + gis311.esc(p.crew_name) + " · ETA " + gis311.esc(p.eta) + " · " + gis311.esc(p.status) +
                         (p.locked ? " · locked" : ""))
              .on("click", function () {
                var t = document.getElementById("pin-ticket");
                if (t) t.value = p.ticket;
              })
              .addTo(routes);
          }
        });
        if (routes.getLayers().length) map.fitBounds(routes.getBounds().pad(0.05));
        if (legend.length) {  // which colour is which crew
          var box = L.control({ position: "topright" });
          box.onAdd = function () {
            var div = L.DomUtil.create("div", "legend");
            div.id = "legend";
            div.innerHTML = legend.map(function (l) {
              return "<div><span class='swatch' style='background:" + l.colour + "'></span>" + gis311.esc(l.name) +
                " · " + gis311.esc(l.minutes) + " min</div>";
            }).join("");
            return div;
          };
          box.addTo(map);
        }
        document.body.dataset.stops = String(stops);
        document.body.dataset.mapReady = "1";
      });
    }).catch(function (e) { document.body.dataset.mapError = e.message; });
    if (el.dataset.run) {  // a planning run is queued on the worker: show its draft, or why it failed
      var status = document.getElementById("run-status");
      var poll = setInterval(function () {
        fetch(el.dataset.run).then(function (r) { return r.json(); }).then(function (d) {
          if (d.state === "done" && d.page) { clearInterval(poll); location.href = d.page; return; }
          if (d.state === "failed") {
            clearInterval(poll);
            status.className = "msg error";
            status.textContent = "Planning failed: " + d.detail;
            status.dataset.state = "failed";
            return;
          }
          status.textContent = d.state === "running" ? "Planning… (" + d.waited_seconds + " s)" :
            d.waited_seconds > 60 ? "Still queued after " + d.waited_seconds + " s: no planner worker has taken " +
              "the run (is the Celery worker running? `make demo` starts one)" : "Queued for the planner…";
        });
      }, 2000);
    }
  });
})();
