/* The council ward map: every ward shaded by the chosen measure over the city map, the member's own ward drawn
   heavier, counts on hover and in the table, fresh every few seconds without a reload. */
(function () {
  "use strict";
  var el = document.getElementById("map"), form = document.getElementById("filters");
  var esc = gis311.esc, seat = parseInt(document.getElementById("my-ward").dataset.seat || "0", 10) || null;
  var SHADES = ["#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f"];
  var NOTES = {
    open_per_km2: "Open requests (unique issues, not duplicates) per square kilometre of the ward: where the " +
      "backlog is densest, fair between large and small wards.",
    overdue_share: "Of each ward's open requests, the share already past the due date their type's SLA set.",
    median_age: "Half of each ward's open requests are older than this many days.",
  };
  var map = L.map(el, { zoomSnap: 0.25 });
  map.attributionControl.setPrefix("Leaflet");
  map.setView([0, 0], 2);
  gis311.cityLayers(map).catch(function () { /* outlines below still show the wards */ });
  var shapes = {}, figures = {}, updates = 0;

  var outlines = gis311.basemap(map, el.dataset.basemap, {
    interactive: true,
    onEachFeature: function (f, lyr) {
      var n = f.properties.number;
      shapes[n] = lyr;
      lyr.bindTooltip(function () { return tip(n); }, { sticky: true });
      lyr.on("click", function () { location.href = wardUrl(n); });
    },
  }).then(function (layer) {
    map.fitBounds(layer.cityBounds);
    return layer;
  });

  function query() {
    var p = new URLSearchParams();
    ["type", "department", "status", "start", "end"].forEach(function (k) {
      var v = form.elements[k].value;
      if (v && !(k === "status" && v === "all")) p.set(k, v);
    });
    return p.toString();
  }
  function wardUrl(n) { return el.dataset.wardUrl.replace(/\/0\/$/, "/" + n + "/") + "?" + query(); }
  function fmt(v, measure) {
    if (v === null || v === undefined) return "–";
    return measure === "overdue_share" ? Math.round(v * 100) + " %" : String(v);
  }
  function tip(n) {
    var w = figures[n];
    if (!w) return gis311.word("District") + " " + esc(n);
    return "<strong>" + gis311.word("District") + " " + esc(w.code || n) + (n === seat ? " (yours)" : "") + "</strong><br>" + esc(w.open) + " open, " +
      esc(w.overdue) + " overdue<br>" + esc(w.filed) + " filed in the period<br>median age " +
      esc(fmt(w.median_age)) + " days<br>" + esc(fmt(w.open_per_km2)) + " open per km²";
  }
  function cuts(values) {
    var v = values.filter(function (x) { return x !== null; }).sort(function (a, b) { return a - b; });
    if (!v.length) return [];
    var out = [];
    for (var i = 1; i < SHADES.length; i++) {
      var cut = v[Math.min(v.length - 1, Math.floor(v.length * i / SHADES.length))];
      if (cut > v[0] && out.indexOf(cut) < 0) out.push(cut);  // equal values make one class, not five
    }
    return out;
  }
  function shade(body) {
    var measure = form.elements.measure.value;
    var c = cuts(body.wards.map(function (w) { return w[measure]; }));
    body.wards.forEach(function (w) {
      figures[w.ward] = w;
      var lyr = shapes[w.ward];
      if (!lyr) return;
      var v = w[measure], k = v === null ? -1 : c.filter(function (x) { return v >= x; }).length;
      var mine = w.ward === seat;
      lyr.setStyle({ stroke: true, color: mine ? "#111" : "#4b3575", weight: mine ? 4 : 1, opacity: 1,
                     fillColor: k < 0 ? "#ffffff" : SHADES[k], fillOpacity: k < 0 ? 0.1 : fill() });
      if (mine) { lyr.bringToFront(); lyr.getElement() && lyr.getElement().classList.add("my-ward"); }
    });
    legend(c, measure);
    table(body.wards);
    document.getElementById("measure-note").textContent = NOTES[measure] || "";
    var link = document.getElementById("my-ward-link");
    if (link && seat) link.href = wardUrl(seat);  // her ward's page with the same filters
    document.getElementById("wards-map-file").href = document.getElementById("wards-map-file").href.split("?")[0] + "?" + query();
  }
  // Shading fades as one zooms in, so the streets and their names read through it.
  function fill() { var z = map.getZoom(); return z >= 15 ? 0.12 : z >= 13 ? 0.3 : 0.6; }
  map.on("zoomend", function () {
    Object.keys(shapes).forEach(function (n) {
      if (shapes[n].options.fillColor !== "#ffffff") shapes[n].setStyle({ fillOpacity: fill() });
    });
  });
  function legend(c, measure) {
    var html = "";
    for (var i = 0; i <= c.length; i++) {
      var lo = i === 0 ? null : c[i - 1], hi = i < c.length ? c[i] : null;
      if (lo === null && hi === null) { html += '<span class="swatch" style="background:' + SHADES[0] + '"></span>every ' + gis311.word("district") + ' alike<br>'; break; }
      html += '<span class="swatch" style="background:' + SHADES[i] + '"></span>' +
        (lo === null ? "under " + esc(fmt(hi, measure)) : hi === null ? esc(fmt(lo, measure)) + " and over" :
          esc(fmt(lo, measure)) + " to " + esc(fmt(hi, measure))) + "<br>";
    }
    document.getElementById("legend").innerHTML = html;
  }
  function table(wards) {
    var rows = wards.map(function (w) {
      return '<tr data-ward="' + esc(w.ward) + '"' + (w.ward === seat ? ' class="mine"' : "") + '><td><a href="' +
        esc(wardUrl(w.ward)) + '">' + esc(w.code || w.ward) + "</a></td><td class=\"open\">" + esc(w.open) + "</td><td>" +
        esc(w.overdue) + "</td><td>" + esc(w.filed) + "</td></tr>";
    });
    document.querySelector("#ward-table tbody").innerHTML = rows.join("");
    var mine = wards.filter(function (w) { return w.ward === seat; })[0], dl = document.getElementById("my-ward-figures");
    if (mine && dl) {
      dl.innerHTML = "<dt>Open</dt><dd id=\"my-open\">" + esc(mine.open) + "</dd><dt>Overdue</dt><dd>" + esc(mine.overdue) +
        "</dd><dt>Filed in the period</dt><dd id=\"my-filed\">" + esc(mine.filed) + "</dd><dt>Median age of open</dt><dd>" +
        esc(fmt(mine.median_age)) + " days</dd>";
    }
  }
  var asked = 0;
  function refresh() {
    var mine = ++asked;  // answers can come back out of order: only the latest question's answer is drawn
    return fetch(el.dataset.figures + "?" + query(), { credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.detail || r.status);
        return body;
      });
    }).then(function (body) {
      if (mine !== asked) return;
      return outlines.then(function () {
        shade(body);
        updates += 1;
        document.body.dataset.updates = String(updates);
        document.getElementById("updated").textContent = "Updated " + new Date().toLocaleTimeString() + ".";
      });
    }).catch(function (e) { document.getElementById("updated").textContent = "Could not refresh: " + e.message; });
  }
  form.addEventListener("change", refresh);
  refresh();
  setInterval(function () { if (!document.hidden) refresh(); }, (parseInt(el.dataset.live, 10) || 5) * 1000);
})();
