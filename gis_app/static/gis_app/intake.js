// The intake page's script (served as a file: the Content-Security-Policy allows no inline scripts).
(function () {
  var el = document.getElementById("map"), form = document.getElementById("intake");
  var list = document.getElementById("candidates"), result = document.getElementById("result");
  var map = L.map(el, { zoomSnap: 0.25 }); map.attributionControl.setPrefix("Leaflet"); map.setView([0, 0], 2);
  window.intakeMap = map;
  gis311.basemap(map, el.dataset.basemap, { fill: true }).then(function (b) { map.fitBounds(b.getBounds()); document.body.dataset.mapReady = "1"; });
  gis311.streets(map, el.dataset.streets, 15);
  var pin = null, shown = L.layerGroup().addTo(map);
  function payload(extra) {
    var data = {}; new FormData(form).forEach(function (v, k) { if (k !== "csrfmiddlewaretoken" && v !== "") data[k] = v; });
    return Object.assign(data, extra || {});
  }
  function refresh() {
    var lon = document.getElementById("lon").value, lat = document.getElementById("lat").value;
    if (!lon) return;
    var q = "?service_code=" + encodeURIComponent(document.getElementById("service_code").value) + "&lon=" + lon + "&lat=" + lat +
            "&address=" + encodeURIComponent(document.getElementById("address").value);
    fetch(el.dataset.candidates + q, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      shown.clearLayers();
      if (!d.candidates) { list.innerHTML = "<p class='msg err'>" + gis311.esc(d.detail) + "</p>"; return; }
      if (!d.candidates.length) { list.textContent = "No open issue of this type within " + d.radius_m + " m."; return; }
      list.innerHTML = "";
      d.candidates.forEach(function (c) {
        var div = document.createElement("div"); div.className = "cand";
        div.innerHTML = "<b>" + gis311.esc(c.ticket) + "</b> " + gis311.esc(c.status) + " · score " + gis311.esc(c.score) +
          "<br><small>" + gis311.esc(c.reasons.join("; ")) + "</small><br>";
        var btn = document.createElement("button"); btn.type = "button"; btn.textContent = "Attach caller to " + c.ticket;
        btn.className = "attach"; btn.onclick = function () { submit({ duplicate_of: c.ticket }); };
        div.appendChild(btn); list.appendChild(div);
      });
    });
  }
  function place(latlng) {
    document.getElementById("lon").value = latlng.lng.toFixed(6); document.getElementById("lat").value = latlng.lat.toFixed(6);
    document.getElementById("where").value = latlng.lat.toFixed(5) + ", " + latlng.lng.toFixed(5);
    if (pin) pin.remove(); pin = L.circleMarker(latlng, { radius: 7, color: "#c0392b" }).addTo(map);
    refresh();
    // What is here, read back from the city's layers: the nearest address, the ward, a ward line close by.
    var here = document.getElementById("here");
    fetch(el.dataset.reverse + "?lon=" + latlng.lng.toFixed(6) + "&lat=" + latlng.lat.toFixed(6))
      .then(function (r) { return r.json(); }).then(function (d) {
        if (d.ward === null || d.ward === undefined) { here.className = "msg err"; here.textContent = d.message || d.detail || "outside the city"; return; }
        here.className = d.near_ward_edge ? "msg err" : "msg";
        here.textContent = (d.address ? d.address + " · " : "") + "ward " + d.ward +
          (d.community_area ? " · " + d.community_area.name : "") +
          (d.near_ward_edge ? " — " + Math.round(d.ward_edge_m) + " m from a ward line: check the pin" : "");
      });
  }
  map.on("click", function (e) { place(e.latlng); });
  // Typed address or cross streets: geocode on the city's own layers and drop the pin there.
  document.getElementById("find").addEventListener("click", function () {
    var q = document.getElementById("address").value, out = document.getElementById("found");
    fetch(el.dataset.geocode + "?q=" + encodeURIComponent(q)).then(function (r) { return r.json(); }).then(function (d) {
      if (d.status === "matched" && d.lat !== null) {
        out.textContent = d.address + " (" + d.kind + ", ward " + d.ward + ")";
        place(L.latLng(d.lat, d.lon)); map.setView([d.lat, d.lon], Math.max(map.getZoom(), 16));
      } else if (d.status === "ambiguous") {
        out.textContent = "Which one? " + d.candidates.map(function (c) { return c.address; }).join(" / ");
      } else { out.textContent = d.message || d.detail || "not found"; }
    });
  });
  // As the clerk types: completions from the city's own street layer (a datalist the browser shows).
  var typing = null, options = document.getElementById("suggestions");
  document.getElementById("address").addEventListener("input", function () {
    var q = this.value;
    clearTimeout(typing);
    if (q.trim().length < 3) return;
    typing = setTimeout(function () {
      fetch(el.dataset.geocode + "?suggest=6&q=" + encodeURIComponent(q)).then(function (r) { return r.json(); }).then(function (d) {
        options.innerHTML = "";
        (d.suggestions || []).forEach(function (s) {
          var o = document.createElement("option"); o.value = s.address;
          o.label = s.ward ? "ward " + s.ward : s.kind; options.appendChild(o);
        });
      });
    }, 250);
  });
  document.getElementById("service_code").addEventListener("change", refresh);
  document.getElementById("address").addEventListener("change", refresh);
  function submit(extra) {
    fetch(el.dataset.create, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.csrfmiddlewaretoken.value },
      body: JSON.stringify(payload(extra)) }).then(function (r) { return r.json().then(function (d) { return [r.status, d]; }); })
      .then(function (x) {
        var d = x[1];
        if (x[0] !== 201) { result.innerHTML = "<p class='msg err'>" + gis311.esc(d.detail) + "</p>"; return; }
        var html = "<p class='msg'>Filed <b id='ticket'>" + gis311.esc(d.ticket) + "</b> (ward " + gis311.esc(d.ward_number) +
          ", due " + gis311.esc(d.due_at) + ")";
        if (d.duplicate_of) html += ", attached to <b id='parent'>" + gis311.esc(d.duplicate_of) + "</b>: " +
          gis311.esc(d.counts.raw_requests) + " reports, " + gis311.esc(d.counts.reporters) + " callers";
        result.innerHTML = html + ".</p>";
        refresh();
      });
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
})();
