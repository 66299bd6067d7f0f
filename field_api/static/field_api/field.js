/* The crew tablet page (/field/): today's route as a list and a map, stop actions queued offline-first.

   Everything a crew does is written to an IndexedDB queue first and sent in order when there is signal; the
   route, the map of its area and the queue survive a reload with no network. The device token comes once
   from a sign-in link (#signin=… in the address, never sent to a server) and is kept in IndexedDB; a revoked
   token signs the tablet out at its next sync, keeping any unsent work on the tablet. */
(function () {
  "use strict";
  var esc = window.gis311.esc;
  var $ = function (id) { return document.getElementById(id); };
  var KINDS = {
    en_route: "En route", arrived: "Arrived", started: "Started",
    completed: "Completed", could_not_complete: "Could not complete",
  };
  var REASONS = [
    ["no_access", "No access"], ["parked_car", "Parked car in the way"], ["needs_other_crew", "Needs another crew"],
    ["not_found", "Problem not found"], ["unsafe", "Unsafe to work"], ["weather", "Weather"],
    ["other", "Other (say why in the note)"],
  ];
  var DONE = ["completed", "could_not_complete"];
  var STATUS = Object.assign({ planned: "Not started" }, KINDS);  // what a stop's status reads as on the card
  var state = { token: null, route: null, map: null, queue: [], lastSync: null, syncing: false, problems: [] };

  // ---- IndexedDB: a key-value store and the queue of updates ------------------------------------------------
  var dbPromise = new Promise(function (resolve, reject) {
    var open = indexedDB.open("gis311-field", 1);
    open.onupgradeneeded = function () {
      open.result.createObjectStore("kv");
      open.result.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
    };
    open.onsuccess = function () { resolve(open.result); };
    open.onerror = function () { reject(open.error); };
  });
  function tx(store, mode, work) {
    return dbPromise.then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(store, mode), out = work(t.objectStore(store));
        t.oncomplete = function () { resolve(out && "result" in out ? out.result : undefined); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  var kv = {
    get: function (k) { return tx("kv", "readonly", function (s) { return s.get(k); }); },
    set: function (k, v) { return tx("kv", "readwrite", function (s) { return s.put(v, k); }); },
    del: function (k) { return tx("kv", "readwrite", function (s) { return s.delete(k); }); },
  };
  var queue = {
    add: function (item) { return tx("queue", "readwrite", function (s) { return s.add(item); }); },
    all: function () { return tx("queue", "readonly", function (s) { return s.getAll(); }); },
    remove: function (seq) { return tx("queue", "readwrite", function (s) { return s.delete(seq); }); },
  };

  // ---- talking to the crew API ------------------------------------------------------------------------------
  function api(path, options) {
    options = options || {};
    options.headers = Object.assign({ Authorization: "Device " + state.token }, options.headers || {});
    options.cache = "no-store";
    return fetch(path, options);
  }
  function detailOf(resp) {
    return resp.json().then(function (b) { return (b && b.detail) || "HTTP " + resp.status; },
                            function () { return "HTTP " + resp.status; });
  }
  function Stop(reason) { this.reason = reason; }

  function signIn(code) {
    return fetch("/api/crew/sign-in/", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code: code }),
    }).then(function (resp) {
      if (!resp.ok) return detailOf(resp).then(function (d) { notice("Sign-in failed: " + d, true); });
      return resp.json().then(function (b) {
        state.token = b.token;
        return Promise.all([kv.set("token", b.token), kv.set("device", { device: b.device, crew: b.crew }),
                            kv.del("signedOut"), kv.del("route"), kv.del("etag")]).then(function () {
          notice("Signed in as " + b.crew.name + " (" + b.device + ").");
        });
      });
    }, function () { notice("No signal: open the sign-in link again when the tablet is online.", true); });
  }

  function signedOut(message) {
    state.token = null;
    var text = message + " — " + state.queue.length + " update(s) are kept on this tablet; sign in again with " +
      "a new link from the office to send them.";
    return Promise.all([kv.del("token"), kv.set("signedOut", text)]).then(function () { notice(text, true); });
  }

  function send(item) {
    var url = "/api/crew/stops/" + item.stop + "/events/";
    var fields = { id: item.id, kind: item.kind, device_time: item.device_time, note: item.note || "" };
    if (item.reason_code) fields.reason_code = item.reason_code;
    if (item.photo_stage) fields.photo_stage = item.photo_stage;
    if (item.photos && item.photos.length) {
      var form = new FormData();
      Object.keys(fields).forEach(function (k) { form.append(k, fields[k]); });
      if (item.materials && item.materials.length) form.append("materials", JSON.stringify(item.materials));
      item.photos.forEach(function (p, i) { form.append("photos", p, p.name || "photo-" + i + ".jpg"); });
      return api(url, { method: "POST", body: form });
    }
    if (item.materials && item.materials.length) fields.materials = item.materials;
    return api(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(fields) });
  }

  // Send the queue in order. A network failure or a server error stops (the rest wait); an update the server
  // refuses (4xx) is reported on the page and leaves the queue, so one bad update cannot hold up the others.
  function flush() {
    return queue.all().then(function (items) {
      var chain = Promise.resolve();
      items.forEach(function (item) {
        chain = chain.then(function () {
          return send(item).then(function (resp) {
            if (resp.status === 401) return detailOf(resp).then(function (d) { return signedOut(d).then(function () { throw new Stop("signed out"); }); });
            if (resp.status >= 500 || resp.status === 429) throw new Stop("server busy");
            if (resp.ok) return resp.json().then(function (b) { return afterSent(item, b); });
            return detailOf(resp).then(function (d) {
              state.problems.push({ ticket: item.ticket, kind: item.kind, detail: d, at: new Date().toISOString() });
              return kv.set("problems", state.problems).then(function () { return queue.remove(item.seq); });
            });
          }, function () { throw new Stop("offline"); });
        });
      });
      return chain;
    });
  }
  function afterSent(item, body) {
    var onRoute = state.route && state.route.stops.some(function (s) { return s.id === item.stop; });
    if (!onRoute) {
      state.problems.push({ ticket: item.ticket, kind: item.kind, at: new Date().toISOString(), sent: true,
                            detail: "sent (the stop is no longer on this route): " + (body.detail || body.outcome) });
    }
    return kv.set("problems", state.problems).then(function () { return queue.remove(item.seq); });
  }

  function pull() {
    return kv.get("etag").then(function (etag) {
      var headers = etag && state.route ? { "If-None-Match": etag } : {};
      return api("/api/crew/route/?date=next", { headers: headers });
    }).then(function (resp) {
      if (resp.status === 304) return null;
      if (resp.status === 401) return detailOf(resp).then(function (d) { return signedOut(d).then(function () { throw new Stop("signed out"); }); });
      if (resp.status === 404) {
        return detailOf(resp).then(function (d) {
          state.route = null;
          return Promise.all([kv.del("route"), kv.del("etag")]).then(function () { notice(d); });
        });
      }
      if (!resp.ok) throw new Stop("server");
      var etag = resp.headers.get("ETag");
      return resp.json().then(function (route) {
        var old = state.route;
        if (old && (old.route !== route.route || old.version !== route.version)) {
          var summary = diff(old, route);
          if (summary) kv.set("changes", summary).then(function () { showChanges(summary); });
        }
        state.route = route;
        render();  // the list and the route line now; the streets and wards follow when they arrive
        return Promise.all([kv.set("route", route), kv.set("etag", etag)]).then(function () { return pullMap(route); });
      });
    }, function () { throw new Stop("offline"); });
  }
  function pullMap(route) {
    if (state.map && state.map.route === route.route && state.map.version === route.version) return null;
    return api("/api/crew/routes/" + route.route + "/map/").then(function (resp) {
      if (!resp.ok) return null;
      return resp.json().then(function (data) {
        state.map = { route: route.route, version: route.version, data: data };
        drawMap();
        return kv.set("map", state.map);
      });
    });
  }

  // What a re-plan changed, by ticket: stops added, removed, moved to another place in the order.
  function diff(old, now) {
    var before = {}, after = {};
    old.stops.forEach(function (s) { before[s.ticket] = s.sequence; });
    now.stops.forEach(function (s) { after[s.ticket] = s.sequence; });
    var added = Object.keys(after).filter(function (t) { return !(t in before); });
    var removed = Object.keys(before).filter(function (t) { return !(t in after); });
    var moved = Object.keys(after).filter(function (t) { return t in before && before[t] !== after[t]; });
    if (!added.length && !removed.length && !moved.length) return null;
    return { at: new Date().toISOString(), added: added, removed: removed, moved: moved };
  }

  function sync() {
    if (state.syncing || !state.token) return Promise.resolve();
    state.syncing = true;
    render();
    return flush().then(pull).then(function () {
      state.lastSync = new Date().toISOString();
      return kv.set("lastSync", state.lastSync);
    }).catch(function (e) {
      if (!(e instanceof Stop)) console.error(e);
    }).then(function () {
      state.syncing = false;
      return queue.all();
    }).then(function (items) { state.queue = items; render(); });
  }

  // ---- acting on a stop -------------------------------------------------------------------------------------
  function localDay(d) {
    var z = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    return z.toISOString().slice(0, 10);
  }
  function record(stop, kind, extra) {
    var item = Object.assign({
      id: crypto.randomUUID(), stop: stop.id, ticket: stop.ticket, kind: kind,
      device_time: new Date().toISOString(), note: "", photos: [],
    }, extra || {});
    return queue.add(item).then(queue.all).then(function (items) {
      state.queue = items;
      render();
      return sync();
    });
  }
  function statusOf(stop) {
    var last = null;
    state.queue.forEach(function (q) { if (q.stop === stop.id) last = q.kind; });
    return { status: last || stop.status, waiting: !!last };
  }

  function field(html) { var p = document.createElement("p"); p.innerHTML = html; return p; }
  function openAction(stop, kind) {
    var needsPhoto = stop.service_type.completion_requires_photo;
    var box = $("act-fields");
    box.innerHTML = "";
    $("act-error").textContent = "";
    $("act-title").textContent = KINDS[kind] + " · " + stop.sequence + ". " + stop.ticket;
    if (kind === "started") {
      box.appendChild(field("<label>Before photos (optional)<br><input id='act-photos' type='file' accept='image/*' capture='environment' multiple></label>"));
    } else if (kind === "completed") {
      box.appendChild(field("<label>What was done (the resident reads this)<br><textarea id='act-note' rows='3' required maxlength='2000'></textarea></label>"));
      box.appendChild(field("<label>Material <input id='act-item' maxlength='120' placeholder='cold patch'></label> " +
        "<label>Quantity <input id='act-qty' type='number' min='0' step='any' inputmode='decimal'></label> " +
        "<label>Unit <input id='act-unit' maxlength='20' placeholder='bags'></label>"));
      box.appendChild(field("<label>After photos" + (needsPhoto ? " (required for this type)" : "") +
        "<br><input id='act-photos' type='file' accept='image/*' capture='environment' multiple></label>"));
    } else if (kind === "could_not_complete") {
      var options = REASONS.map(function (r) { return "<option value='" + r[0] + "'>" + esc(r[1]) + "</option>"; }).join("");
      box.appendChild(field("<label>Why<br><select id='act-reason' required><option value=''>Choose…</option>" + options + "</select></label>"));
      box.appendChild(field("<label>Note<br><textarea id='act-note' rows='2' maxlength='2000'></textarea></label>"));
    }
    var dialog = $("act");
    $("act-form").onsubmit = function (ev) {
      ev.preventDefault();
      var extra = {}, err = "";
      var note = $("act-note") ? $("act-note").value.trim() : "";
      var photos = $("act-photos") ? Array.prototype.slice.call($("act-photos").files) : [];
      if (photos.length > 5) err = "at most 5 photos at a time";
      if (kind === "completed") {
        if (!note) err = "say what was done";
        if (needsPhoto && !photos.length) err = "this type needs an after photo as proof";
        var item = $("act-item").value.trim(), qty = $("act-qty").value;
        if (item) extra.materials = [{ item: item, quantity: qty === "" ? 0 : Number(qty), unit: $("act-unit").value.trim() }];
        extra.photo_stage = "after";
      }
      if (kind === "started") extra.photo_stage = "before";
      if (kind === "could_not_complete") {
        extra.reason_code = $("act-reason").value;
        if (!extra.reason_code) err = "choose a reason";
        if (extra.reason_code === "other" && !note) err = "say why in the note";
      }
      if (err) { $("act-error").textContent = err; return; }
      extra.note = note;
      extra.photos = photos;
      dialog.close();
      record(stop, kind, extra);
    };
    $("act-cancel").onclick = function () { dialog.close(); };
    dialog.showModal();
  }
  function act(stop, kind) {
    if (kind === "en_route" || kind === "arrived") return record(stop, kind);
    return openAction(stop, kind);
  }

  // ---- drawing ----------------------------------------------------------------------------------------------
  function notice(text, bad) {
    var n = $("notice");
    n.textContent = text;
    n.className = bad ? "bad" : "";
    n.hidden = !text;
  }
  function showChanges(c) {
    var el = $("changes");
    if (!c) { el.hidden = true; return; }
    var parts = [];
    if (c.added.length) parts.push(c.added.length + " added (" + c.added.join(", ") + ")");
    if (c.removed.length) parts.push(c.removed.length + " removed (" + c.removed.join(", ") + ")");
    if (c.moved.length) parts.push(c.moved.length + " moved (" + c.moved.join(", ") + ")");
    el.innerHTML = "<b>Route changed by the office</b> at " + esc(new Date(c.at).toLocaleTimeString()) + ": " +
      esc(parts.join("; ")) + ". <button type='button' id='changes-ok'>OK</button>";
    el.hidden = false;
    $("changes-ok").onclick = function () { kv.del("changes"); el.hidden = true; };
  }
  function time(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "–";
  }
  function dayLabel(iso) {
    var d = new Date(iso + "T12:00:00");
    return d.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long" });
  }

  function render() {
    var r = state.route, today = localDay(new Date());
    $("net").textContent = navigator.onLine ? "online" : "offline";
    $("net").className = "net " + (navigator.onLine ? "on" : "off");
    $("last-sync").textContent = state.lastSync ? "synced " + time(state.lastSync) : "not synced yet";
    var waiting = state.queue.length;
    $("queue").hidden = !waiting;
    $("queue").textContent = waiting + (waiting === 1 ? " update waiting" : " updates waiting");
    $("sync-now").disabled = state.syncing || !state.token;
    if (!r) { $("stops").innerHTML = ""; drawMap(); document.body.dataset.ready = "1"; return; }
    $("crew-name").textContent = r.crew.name;
    var other = r.date !== today;
    $("route-day").textContent = "· route for " + dayLabel(r.date) + (other ? " (not today: actions open on the day)" : "");
    $("route-day").className = other ? "other-day" : "";
    var list = $("stops");
    list.innerHTML = "";
    r.stops.forEach(function (s) { list.appendChild(stopCard(s, other)); });
    var problems = state.problems.slice(-5);
    problems.forEach(function (p) {
      var li = document.createElement("li");
      li.className = "problem" + (p.sent ? " sent" : "");
      li.textContent = (p.sent ? "" : "Not accepted: ") + KINDS[p.kind] + " for " + p.ticket + " — " + p.detail;
      list.appendChild(li);
    });
    drawMap();
    // When the route first stood drawn after this page load, in ms from navigation (benchmarks/field_page.py).
    if (!document.body.dataset.drawnMs) document.body.dataset.drawnMs = String(Math.round(performance.now()));
    document.body.dataset.ready = "1";
    document.body.dataset.stops = String(r.stops.length);
    document.body.dataset.queue = String(waiting);
  }

  function stopCard(s, otherDay) {
    var st = statusOf(s), done = DONE.indexOf(st.status) >= 0;
    var li = document.createElement("li");
    li.className = "stop" + (done ? " done" : "");
    li.id = "stop-" + s.id;
    li.dataset.ticket = s.ticket;
    li.dataset.status = st.status;
    var where = s.address ? esc(s.address) + (s.address_source === "nearest" ? " <small>(nearest address to the pin)</small>" : "") : "<i>no address: see the map</i>";
    var attrs = Object.keys(s.attributes || {}).map(function (k) { return esc(k) + ": " + esc(s.attributes[k]); }).join(" · ");
    var window_ = s.window && (s.window.start || s.window.end) ? " · window " + time(s.window.start) + "–" + time(s.window.end) : "";
    li.innerHTML =
      "<div class='head'><span class='seq'>" + esc(s.sequence) + "</span> <b>" + esc(s.service_type.name) + "</b>" +
      " <span class='status'>" + esc(STATUS[st.status] || st.status) + (st.waiting ? " · waiting to send" : "") + "</span></div>" +
      "<div class='where'>" + where + "</div>" +
      "<div class='meta'>ETA " + time(s.eta) + window_ + " · ticket " + esc(s.ticket) +
      (s.reporters > 1 ? " · " + esc(s.reporters) + " callers" : "") + "</div>" +
      (s.description ? "<div class='desc'>“" + esc(s.description) + "”</div>" : "") +
      (attrs ? "<div class='attrs'>" + attrs + "</div>" : "") +
      (s.notes && s.notes.length ? "<div class='notes'>Dispatch: " + esc(s.notes.join("; ")) + "</div>" : "") +
      "<div class='photos'></div><div class='actions'></div>";
    var photos = li.querySelector(".photos");
    if (/^https?:\/\//.test(s.reporter_photo || "")) {  // the reporter's own photo: a link (it is not our file)
      var a = document.createElement("a");
      a.href = s.reporter_photo; a.target = "_blank"; a.rel = "noopener noreferrer"; a.className = "reporter-photo";
      a.textContent = "Reporter's photo";
      photos.appendChild(a);
    }
    (s.photos || []).forEach(function (p) {
      var img = document.createElement("img");
      img.src = p.thumbnail; img.alt = p.stage + " photo"; img.loading = "lazy";
      photos.appendChild(img);
    });
    var actions = li.querySelector(".actions");
    Object.keys(KINDS).forEach(function (kind) {
      var b = document.createElement("button");
      b.type = "button"; b.className = "big act-" + kind; b.textContent = KINDS[kind];
      b.disabled = done || otherDay || !state.token;
      b.onclick = function () { act(s, kind); };
      actions.appendChild(b);
    });
    if (s.location) {
      var xy = s.location.coordinates, a = document.createElement("a");
      a.className = "big nav"; a.textContent = "Navigate";
      a.href = "geo:" + xy[1] + "," + xy[0] + "?q=" + xy[1] + "," + xy[0] + "(" + encodeURIComponent(s.ticket) + ")";
      actions.appendChild(a);
    }
    return li;
  }

  var map = null, layers = null, me = null;
  function drawMap() {
    if (!window.L) return;
    if (!map) {
      map = L.map("map", { zoomSnap: 0.5 });
      map.attributionControl.setPrefix("Leaflet");
      layers = L.layerGroup().addTo(map);
      map.on("zoomend", streetLabels);
      // Online, the city map's tiles draw and name every street; offline, the corridor saved with the route does.
      gis311.cityLayers(map).then(function (l) { tiles = l; streetLabels(); }).catch(function () { /* offline */ });
      if (navigator.geolocation) {
        navigator.geolocation.watchPosition(function (pos) {
          var ll = [pos.coords.latitude, pos.coords.longitude];
          if (!me) me = L.circleMarker(ll, { radius: 9, color: "#fff", weight: 3, fillColor: "#0a64d6", fillOpacity: 1 }).addTo(map);
          else me.setLatLng(ll);
        }, function () { /* no position (indoors, refused): the map works without it */ }, { enableHighAccuracy: true });
      }
    }
    layers.clearLayers();
    var r = state.route, m = state.map && state.route && state.map.route === r.route ? state.map.data : null;
    if (m && m.wards) L.geoJSON(m.wards, { style: { color: "#6b4f9e", weight: 2, dashArray: "6 4", fill: false }, interactive: false }).addTo(layers);
    if (m && m.streets) {
      L.geoJSON(m.streets, { style: { color: "#8a8a8a", weight: 2 }, interactive: false }).addTo(layers);
      (m.streets.networks || []).forEach(function (n) { if (n.attribution) map.attributionControl.addAttribution(esc(n.attribution)); });
    }
    if (!r) { map.setView([0, 0], 2); return; }
    if (r.geometry) L.geoJSON(r.geometry, { style: { color: "#0057b8", weight: 6, opacity: 0.85 } }).addTo(layers);
    var bounds = [];
    r.stops.forEach(function (s) {
      if (!s.location) return;
      var xy = s.location.coordinates, st = statusOf(s).status, done = DONE.indexOf(st) >= 0;
      bounds.push([xy[1], xy[0]]);
      L.marker([xy[1], xy[0]], {
        title: s.ticket,
        icon: L.divIcon({ className: "stop-pin" + (done ? " done" : ""), iconSize: [34, 34], html: esc(s.sequence) }),
      }).on("click", function () {
        var card = $("stop-" + s.id);
        if (card) card.scrollIntoView({ behavior: "smooth", block: "center" });
      }).addTo(layers);
    });
    if (labels) map.removeLayer(labels);
    labels = null;
    streetLabels();
    if (!fitted && bounds.length) { map.fitBounds(bounds, { padding: [30, 30], maxZoom: 17 }); fitted = true; }
  }
  var fitted = false, labels = null, tiles = null;
  // Street names at street level: one label per named street, at the middle of its longest piece in view data.
  function streetLabels() {
    var m = state.map && state.map.data;
    if (!map || !m || !m.streets) return;
    // No view yet (zoom undefined) or a city view: no names; online, the tiles name the streets.
    if (!(map.getZoom() >= 16) || (tiles && navigator.onLine)) { if (labels) { map.removeLayer(labels); } return; }
    if (!labels) {
      labels = L.layerGroup();
      var best = {};
      m.streets.features.forEach(function (f) {
        var name = f.properties.name, g = f.geometry;
        if (!name || !g) return;
        var parts = g.type === "MultiLineString" ? g.coordinates : [g.coordinates];
        parts.forEach(function (c) {
          if (!c || c.length < 2) return;
          var len = Math.abs(c[0][0] - c[c.length - 1][0]) + Math.abs(c[0][1] - c[c.length - 1][1]);
          if (!best[name] || best[name].len < len) best[name] = { len: len, at: c[Math.floor(c.length / 2)], c: c };
        });
      });
      Object.keys(best).forEach(function (name) {
        var b = best[name], mid = b.c.length > 2 ? b.at : [(b.c[0][0] + b.c[1][0]) / 2, (b.c[0][1] + b.c[1][1]) / 2];
        // Written along the street, as the city map's tiles write names (never upside down).
        var a = map.latLngToLayerPoint([b.c[0][1], b.c[0][0]]), z = map.latLngToLayerPoint([b.c[b.c.length - 1][1], b.c[b.c.length - 1][0]]);
        var deg = Math.atan2(z.y - a.y, z.x - a.x) * 180 / Math.PI;
        if (deg >= 90) deg -= 180; else if (deg < -90) deg += 180;
        gis311.label([mid[1], mid[0]], name, "street-name", Math.round(deg)).addTo(labels);
      });
    }
    if (!map.hasLayer(labels)) labels.addTo(map);
  }

  // ---- start ------------------------------------------------------------------------------------------------
  function start() {
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" });
    $("sync-now").onclick = sync;
    window.addEventListener("online", sync);
    window.addEventListener("offline", render);
    var code = (location.hash.match(/signin=([A-Za-z0-9_-]+)/) || [])[1];
    if (code) history.replaceState(null, "", location.pathname);
    Promise.all([kv.get("token"), kv.get("route"), kv.get("map"), queue.all(), kv.get("lastSync"),
                 kv.get("problems"), kv.get("changes"), kv.get("signedOut"), kv.get("device")]).then(function (v) {
      state.token = v[0] || null; state.route = v[1] || null; state.map = v[2] || null; state.queue = v[3] || [];
      state.lastSync = v[4] || null; state.problems = v[5] || [];
      if (v[8]) $("crew-name").textContent = v[8].crew.name;
      showChanges(v[6]);
      render();
      if (v[7] && !code) notice(v[7], true);
      var ready = code ? signIn(code) : Promise.resolve();
      return ready.then(function () {
        if (!state.token && !code && !v[7]) notice("This tablet is not signed in: scan the sign-in QR code the office gives you.", true);
        return sync();
      });
    });
    setInterval(function () { if (navigator.onLine) sync(); }, 30000);
  }
  document.addEventListener("DOMContentLoaded", start);
})();
