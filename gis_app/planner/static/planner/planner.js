/* Planner page: filters -> a run (answered at once, or queued and polled with progress) -> repeat locations,
   Gi* hot and cold cells and emerging trends on the city's own offline map, with downloads. */
(function () {
  "use strict";
  var esc = gis311.esc;
  var el = document.getElementById("map");
  var map = L.map(el, { zoomSnap: 0.25 });
  map.attributionControl.setPrefix("Leaflet");
  gis311.cityLayers(map);
  gis311.basemap(map, el.dataset.basemap).then(function (base) {
    if (base.cityBounds.isValid()) map.fitBounds(base.cityBounds);
  });
  var COLOURS = { 99: "#b2182b", 95: "#ef8a62", 90: "#fddbc7", "-90": "#d1e5f0", "-95": "#67a9cf", "-99": "#2166ac" };
  var cellsLayer = L.geoJSON(null, {
    style: function (f) {
      var b = f.properties.bin;
      return { color: "#555", weight: 0.5, fillColor: COLOURS[b] || "#fff", fillOpacity: b ? 0.65 : 0.15 };
    },
    onEachFeature: function (f, lyr) {
      var p = f.properties;
      lyr.bindTooltip(esc(p.count + " requests · z " + p.z + " · q " + p.q +
        (p.bin ? " · " + (p.bin > 0 ? "hot " : "cold ") + Math.abs(p.bin) + " %" : "") + (p.label ? " · " + p.label : "")));
    },
  }).addTo(map);
  var repeatsLayer = L.layerGroup().addTo(map);
  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    var d = L.DomUtil.create("div", "legend");
    d.innerHTML = [99, 95, 90, -90, -95, -99].map(function (b) {
      return '<span class="swatch" style="background:' + COLOURS[b] + '"></span>' + (b > 0 ? "hot " : "cold ") + Math.abs(b) + " %";
    }).join("<br>") + '<br><span class="swatch" style="background:#f1c40f;border-radius:6px"></span>repeat location';
    return d;
  };
  legend.addTo(map);

  var form = document.getElementById("filters");
  var statusEl = document.getElementById("status");
  var bar = document.getElementById("progress");
  function say(text, error) {
    statusEl.hidden = !text;
    statusEl.textContent = text || "";
    statusEl.className = "msg" + (error ? " error" : "");
  }

  function timeline(r, start, end) {
    var t0 = Date.parse(start), span = Math.max(1, Date.parse(end) - t0), w = 120;
    var ticks = r.requests.map(function (q) {
      var x = 2 + ((Date.parse(q.date) - t0) / span) * (w - 4);
      return '<line x1="' + x.toFixed(1) + '" x2="' + x.toFixed(1) + '" y1="2" y2="12"></line>';
    }).join("");
    return '<svg class="timeline" width="' + w + '" height="14" role="img" aria-label="' + r.count + ' requests over time">' +
      '<line x1="0" x2="' + w + '" y1="13" y2="13"></line>' + ticks + "</svg>";
  }

  function chart(weekly) {
    if (!weekly.series.length) return "<p>No requests.</p>";
    var n = weekly.week_starts.length, h = 60, w = Math.max(200, n * 8);
    return weekly.series.slice(0, 5).map(function (s) {
      var max = Math.max.apply(null, s.counts.concat([1]));
      var bars = s.counts.map(function (c, i) {
        var bh = (c / max) * (h - 12);
        return '<rect x="' + (i * (w / n)).toFixed(1) + '" y="' + (h - bh).toFixed(1) + '" width="' +
          Math.max(1, w / n - 1).toFixed(1) + '" height="' + bh.toFixed(1) + '"><title>' + esc(weekly.week_starts[i] + ": " + c) + "</title></rect>";
      }).join("");
      return "<h3>" + esc(s.type_name) + " (peak " + max + " a week)</h3>" +
        '<svg class="chart" width="' + w + '" height="' + h + '" role="img" aria-label="' + esc(s.type_name) + ' per week">' + bars + "</svg>";
    }).join("");
  }

  function show(run) {
    var res = run.result;
    bar.hidden = true;
    say("");
    document.getElementById("summary").hidden = false;
    var f = res.filters, sig = res.cells.features.filter(function (c) { return c.properties.bin !== 0; });
    var hot = sig.filter(function (c) { return c.properties.bin > 0; }).length;
    document.getElementById("summary-text").textContent = "Run " + run.id + ": " + res.requests + " " + f.count + " from " +
      f.start + " to " + f.end + (f.types.length ? " (" + f.types.join(", ") + ")" : " (all types)") +
      (f.ward ? " in " + gis311.word("district") + " " + f.ward : "") + ". " + res.repeats.length + " repeat locations; " + hot + " hot and " +
      (sig.length - hot) + " cold cells at FDR " + f.alpha + "; neighbourhood " + res.scale.k + " ring(s), chosen by " +
      res.scale.chosen_by + "; cells of " + res.scale.cell_km2 + " km²; compared with " +
      (res.scale.baseline === "usual" ? "the usual demand of each place" : "an even spread over the city") + ".";
    var dl = run.downloads, names = Object.keys(dl);
    document.getElementById("downloads").innerHTML = "Download: " + names.map(function (n) {
      return '<a href="' + esc(dl[n]) + '" download data-export="' + esc(n) + '">' + esc(n) + "</a>";
    }).join(" · ");
    document.getElementById("method").innerHTML = Object.keys(res.method).map(function (k) {
      return "<p><b>" + esc(k.replace("_", " ")) + ":</b> " + esc(res.method[k]) + "</p>";
    }).join("");
    var tbody = document.querySelector("#repeats tbody");
    tbody.innerHTML = res.repeats.slice(0, 300).map(function (r, i) {
      return '<tr data-i="' + i + '"><td>' + esc(r.type_name) + "</td><td>" + esc(r.address || r.lat + ", " + r.lon) +
        "</td><td>" + r.count + "</td><td>" + esc(r.first) + "</td><td>" + esc(r.last) + "</td><td>" + r.came_back +
        "</td><td>" + timeline(r, f.start, f.end) + "</td></tr>";
    }).join("") || '<tr><td colspan="7">None at these settings.</td></tr>';
    var areaRows = [];
    [["ward", gis311.word("District")], ["community_area", "Community area"]].forEach(function (kind) {
      var a = res.areas[kind[0]];
      if (!a) return;
      a.areas.filter(function (x) { return x.bin !== 0; }).forEach(function (x) {
        areaRows.push("<tr><td>" + kind[1] + "</td><td>" + esc(x.number) + "</td><td>" + x.count + "</td><td>" +
          esc(x.per_km2) + "</td><td>" + x.z + "</td><td>" + x.q + "</td><td>" + (x.bin > 0 ? "hot " : "cold ") +
          Math.abs(x.bin) + " %</td></tr>");
      });
    });
    document.querySelector("#areas tbody").innerHTML = areaRows.join("") ||
      '<tr><td colspan="7">' + (f.ward ? "One " + gis311.word("district") + " alone has no neighbours to compare with." : "No area stands out.") + "</td></tr>";
    var labels = {};
    res.cells.features.forEach(function (c) { if (c.properties.label) labels[c.properties.label] = (labels[c.properties.label] || 0) + 1; });
    document.getElementById("emerging").innerHTML = ["new", "intensifying", "persistent", "diminishing"].map(function (l) {
      return "<li>" + esc(l) + ": " + (labels[l] || 0) + " cells</li>";
    }).join("") + "<li>recent " + res.weeks.recent + " weeks against the " + res.weeks.earlier + " before</li>";
    document.getElementById("weekly").innerHTML = chart(res.weekly);

    cellsLayer.clearLayers();
    cellsLayer.addData(res.cells);
    // A street-scale cell is a few pixels at city zoom: a dot in its colour keeps every significant cell visible.
    res.cells.features.forEach(function (c) {
      if (!c.properties.bin) return;
      var ring = c.geometry.coordinates[0], n = ring.length - 1, lon = 0, lat = 0;
      for (var i = 0; i < n; i++) { lon += ring[i][0] / n; lat += ring[i][1] / n; }
      L.circleMarker([lat, lon], { radius: 5, color: "#333", weight: 1, fillColor: COLOURS[c.properties.bin], fillOpacity: 0.9 })
        .addTo(cellsLayer);
    });
    repeatsLayer.clearLayers();
    res.repeats.slice(0, 2000).forEach(function (r) {
      var links = r.requests.map(function (q) {
        return '<a href="/track/' + encodeURIComponent(q.ticket) + '/">' + esc(q.ticket) + "</a> " + esc(q.date) + " " + esc(q.status);
      }).join("<br>");
      L.circleMarker([r.lat, r.lon], { radius: 4 + Math.min(r.count, 20) / 2, color: "#222", weight: 1, fillColor: "#f1c40f", fillOpacity: 0.9 })
        .bindPopup("<b>" + esc(r.type_name) + "</b>: " + r.count + " requests, " + esc(r.first) + " to " + esc(r.last) +
          "<br>came back " + r.came_back + " times; reopened " + r.reopened + "<br>" + links, { maxHeight: 200 })
        .addTo(repeatsLayer);
    });
    cellsLayer.bringToFront();  // the cell dots over the (larger) repeat markers, which stay visible as rings
    el.dataset.cells = String(res.cells.features.length);
    el.dataset.hot = String(hot);
    el.dataset.repeats = String(res.repeats.length);
    el.dataset.run = String(run.id);
    var b = cellsLayer.getBounds();
    if (res.repeats.length) b.extend(L.latLngBounds(res.repeats.map(function (r) { return [r.lat, r.lon]; })));
    if (b.isValid()) map.fitBounds(b, { maxZoom: 15 });
  }

  function follow(url) {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (run) {
      if (run.state === "done") return show(run);
      if (run.state === "failed") return say("The analysis failed: " + run.detail, true);
      bar.hidden = false;
      bar.value = run.progress;
      say("Run " + run.id + " (" + run.requests + " requests) is " + run.state + (run.stage ? ": " + run.stage : "") + "…");
      setTimeout(function () { follow(url); }, 1000);
    }).catch(function () { say("Lost touch with the server; retrying…", true); setTimeout(function () { follow(url); }, 3000); });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = {};
    new FormData(form).forEach(function (v, k) { if (k !== "csrfmiddlewaretoken" && v !== "") body[k] = v; });
    say("Analysing…");
    fetch(el.dataset.runs, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (data) { return { status: r.status, data: data }; });
    }).then(function (a) {
      if (a.status === 201 && a.data.state === "done") return show(a.data);
      if (a.status === 202) return follow(a.data.url);
      say(a.data.detail || "The server refused the filters (" + a.status + ")", true);
    }).catch(function () { say("Could not reach the server.", true); });
  });

  document.querySelectorAll("#earlier-runs a").forEach(function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); follow(a.dataset.run); });
  });
})();
