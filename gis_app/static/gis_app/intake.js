// The intake page's script (served as a file: the Content-Security-Policy allows no inline scripts).
(function () {
  var el = document.getElementById("map"), form = document.getElementById("intake");
  var list = document.getElementById("candidates"), result = document.getElementById("result");
  var map = L.map(el, { zoomSnap: 0.25 }); map.attributionControl.setPrefix("Leaflet"); map.setView([0, 0], 2);
  window.intakeMap = map;
  gis311.basemap(map, el.dataset.basemap, { fill: true }).then(function (b) { map.fitBounds(b.cityBounds); document.body.dataset.mapReady = "1"; });
  gis311.cityLayers(map);
  var pin = null, shown = L.layerGroup().addTo(map);
  var types = JSON.parse(document.getElementById("types-data").textContent);
  // The text the pin was placed for: a request is filed where the clerk last typed or clicked, never at an
  // older pin (a changed address must be found again, or the pin dropped again).
  var placedFor = null, strong = [], confirmedNew = false, lookups = 0, lastQuery = "";
  function typed() { return document.getElementById("address").value.trim(); }
  function payload(extra) {
    var data = { attributes: {} };
    new FormData(form).forEach(function (v, k) {
      if (k === "csrfmiddlewaretoken" || v === "") return;
      if (k.indexOf("attr:") === 0) { data.attributes[k.slice(5)] = v; return; }
      data[k] = v;
    });
    data.anonymous = document.getElementById("anonymous").checked;
    return Object.assign(data, extra || {});
  }
  function clearPin() {
    if (pin) { pin.remove(); pin = null; }
    document.getElementById("lon").value = ""; document.getElementById("lat").value = "";
    document.getElementById("where").value = ""; placedFor = null;
  }
  // The type's own questions (its Open311 attributes), drawn when the type is chosen; required ones required.
  function drawAttributes() {
    var box = document.getElementById("attributes"), t = types[document.getElementById("service_code").value];
    box.innerHTML = "";
    if (!t) return;
    t.attributes.forEach(function (a) {
      var label = document.createElement("label"), input;
      label.textContent = a.description + (a.required ? " *" : "") + " ";
      if (a.datatype === "singlevaluelist" || a.datatype === "multivaluelist") {
        input = document.createElement("select");
        input.appendChild(new Option("Choose…", ""));
        a.values.forEach(function (v) { input.appendChild(new Option(v.name, v.key)); });
      } else {
        input = document.createElement(a.datatype === "text" ? "textarea" : "input");
        if (a.datatype === "number") input.type = "number";
        if (a.datatype === "datetime") input.type = "datetime-local";
      }
      input.name = "attr:" + a.code; input.required = a.required; input.id = "attr-" + a.code;
      label.appendChild(input); box.appendChild(label);
    });
    var anon = document.getElementById("anonymous"), note = document.getElementById("anonymity-note");
    anon.disabled = t.force_anonymous || !t.anonymous_allowed;
    anon.checked = t.force_anonymous || (anon.checked && t.anonymous_allowed);
    note.hidden = !(t.force_anonymous || !t.anonymous_allowed);
    note.textContent = t.force_anonymous ? t.name + " keeps no caller identity: the report is filed anonymously." :
      t.name + " cannot be reported anonymously.";
  }
  function refresh() {
    var lon = document.getElementById("lon").value, lat = document.getElementById("lat").value;
    if (!lon) return;
    var q = "?service_code=" + encodeURIComponent(document.getElementById("service_code").value) + "&lon=" + lon + "&lat=" + lat +
            "&address=" + encodeURIComponent(document.getElementById("address").value);
    if (!document.getElementById("service_code").value) return;
    if (q === lastQuery) return;  // nothing changed since the last look-up: keep the list (and the focus in it)
    lastQuery = q;
    var mine = ++lookups;
    fetch(el.dataset.candidates + q, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      if (mine !== lookups) return;  // a newer look-up was asked for since: its answer is the one to show
      shown.clearLayers();
      var goes = document.getElementById("goes-to");
      goes.hidden = !d.goes_to;
      if (d.goes_to) goes.textContent = "Goes to " + d.goes_to.department + " · due " + d.goes_to.due_text +
        (d.goes_to.sla_text ? " (" + d.goes_to.sla_text + ")" : "");
      var wasStrong = strong.map(function (c) { return c.ticket; }).join();
      strong = (d.candidates || []).filter(function (c) { return c.score >= d.auto_link_at; });
      // A confirmation to file anyway holds until the strong matches themselves change (a late answer to an
      // earlier look-up must not make the clerk confirm twice).
      if (strong.map(function (c) { return c.ticket; }).join() !== wasStrong) confirmedNew = false;
      if (!d.candidates) { list.innerHTML = "<p class='msg err'>" + gis311.esc(d.detail) + "</p>"; return; }
      if (!d.candidates.length) { list.textContent = "No open issue of this type within " + d.radius_m + " m."; return; }
      list.innerHTML = "";
      d.candidates.forEach(function (c) {
        var div = document.createElement("div"); div.className = "cand" + (c.score >= d.auto_link_at ? " strong" : "");
        div.innerHTML = "<b>" + gis311.esc(c.ticket) + "</b> " + gis311.esc(c.status) + " · score " + gis311.esc(c.score) +
          "<br><small>" + gis311.esc(c.reasons.join("; ")) + "</small><br>";
        var btn = document.createElement("button"); btn.type = "button"; btn.textContent = "Attach caller to " + c.ticket;
        btn.className = "attach"; btn.onclick = function () { submit({ duplicate_of: c.ticket }); };
        div.appendChild(btn); list.appendChild(div);
        // The candidate on the map too; the one the clerk is on (focus or hover) is highlighted there.
        if (c.lat !== null && c.lat !== undefined) {
          var strongOne = c.score >= d.auto_link_at;
          var mark = L.circleMarker([c.lat, c.lon], { radius: 8, color: strongOne ? "#c0392b" : "#e67e22", weight: 2,
                                                     fillOpacity: 0.2 })
            .bindTooltip(c.ticket).addTo(shown);
          var light = function (on) {
            mark.setStyle({ weight: on ? 5 : 2, fillOpacity: on ? 0.6 : 0.2 });
            div.classList.toggle("chosen", on);
            if (mark.getElement()) mark.getElement().classList.toggle("chosen-mark", on);
          };
          btn.addEventListener("focus", function () { light(true); });
          btn.addEventListener("blur", function () { light(false); });
          div.addEventListener("mouseenter", function () { light(true); });
          div.addEventListener("mouseleave", function () { light(false); });
        }
      });
    });
  }
  function place(latlng) {
    document.getElementById("lon").value = latlng.lng.toFixed(6); document.getElementById("lat").value = latlng.lat.toFixed(6);
    document.getElementById("where").value = latlng.lat.toFixed(5) + ", " + latlng.lng.toFixed(5);
    if (pin) pin.remove(); pin = L.circleMarker(latlng, { radius: 7, color: "#c0392b" }).addTo(map);
    placedFor = typed();
    refresh();
    // What is here, read back from the city's layers: the nearest address, the ward, a ward line close by.
    var here = document.getElementById("here");
    fetch(el.dataset.reverse + "?lon=" + latlng.lng.toFixed(6) + "&lat=" + latlng.lat.toFixed(6))
      .then(function (r) { return r.json(); }).then(function (d) {
        if (d.ward === null || d.ward === undefined) { here.className = "msg err"; here.textContent = d.message || d.detail || "outside the city"; return; }
        here.className = d.near_ward_edge ? "msg err" : "msg";
        here.textContent = (d.address ? d.address + " · " : "") + "ward " + d.ward +
          (d.community_area ? " · " + d.community_area.name : "") +
          (d.near_ward_edge ? " — " + Math.round(d.ward_edge_m) + " m from a " + gis311.word("district") + " line: check the pin" : "");
      });
  }
  map.on("click", function (e) { place(e.latlng); });
  // Typed address or cross streets: geocode on the city's own layers and drop the pin there.
  document.getElementById("find").addEventListener("click", function () {
    var q = document.getElementById("address").value, out = document.getElementById("found");
    fetch(el.dataset.geocode + "?q=" + encodeURIComponent(q)).then(function (r) { return r.json(); }).then(function (d) {
      if (d.status === "matched" && d.lat !== null) {
        out.textContent = d.address + " (" + d.kind + ", " + gis311.word("district") + " " + d.ward + ")";
        place(L.latLng(d.lat, d.lon)); map.setView([d.lat, d.lon], Math.max(map.getZoom(), 16));
        document.getElementById("description").focus();  // on to what the caller says, no mouse needed
      } else if (d.status === "ambiguous") {
        clearPin();
        out.textContent = "Which one? " + d.candidates.map(function (c) { return c.address; }).join(" / ");
      } else {
        clearPin();  // the earlier pin is not where this address is: nothing is filed until the place is known
        out.textContent = (d.message || d.detail || "not found") + " — drop the pin on the map, or correct the address.";
      }
    });
  });
  // Keyboard first: Enter in the address field finds it on the map; Ctrl+Enter anywhere in the form files.
  document.getElementById("address").addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); document.getElementById("find").click(); }
  });
  form.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); if (!editing) submit(); }
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
  document.getElementById("service_code").addEventListener("change", function () { drawAttributes(); refresh(); });
  document.getElementById("address").addEventListener("change", refresh);
  var NATO = { A: "Alfa", B: "Bravo", C: "Charlie", D: "Delta", E: "Echo", F: "Foxtrot", G: "Golf", H: "Hotel",
    I: "India", J: "Juliett", K: "Kilo", L: "Lima", M: "Mike", N: "November", O: "Oscar", P: "Papa", Q: "Quebec",
    R: "Romeo", S: "Sierra", T: "Tango", U: "Uniform", V: "Victor", W: "Whiskey", X: "X-ray", Y: "Yankee", Z: "Zulu" };
  // The ticket read back to the caller, letter by letter ("7 Kilo Quebec 2 – …").
  function spell(ticket) {
    return String(ticket).split("").map(function (ch) { return ch === "-" ? "–" : NATO[ch] || ch; }).join(" ");
  }
  function when(iso) {
    return iso ? new Date(iso).toLocaleString([], { weekday: "short", day: "numeric", month: "short",
                                                    hour: "2-digit", minute: "2-digit" }) : "";
  }
  function problem(text) { result.innerHTML = "<p class='msg err' id='problem'>" + gis311.esc(text) + "</p>"; }
  function submit(extra) {
    var attaching = extra && extra.duplicate_of;
    if (!document.getElementById("service_code").value) return problem("Choose the type first.");
    var note = document.getElementById("location_note").value.trim();
    if (!document.getElementById("lat").value && !(note && !attaching)) {
      return problem("Drop the pin on the map, find the address, or write where the caller says it is.");
    }
    if (placedFor !== null && typed() && typed() !== placedFor) {
      return problem("The address was changed after the pin was placed: press 'Find on the map', or drop the pin again.");
    }
    if (!attaching) {
      if (!document.getElementById("description").value.trim()) return problem("Write what the caller reports (description).");
      if (!form.checkValidity()) { form.reportValidity(); return; }
      if (strong.length && !confirmedNew) {
        confirmedNew = true;
        return problem("This looks like " + strong[0].ticket + ", a few metres away (score " + strong[0].score +
          "): attach the caller to it, or press 'File a new request' again to file it anyway.");
      }
    }
    fetch(el.dataset.create, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.csrfmiddlewaretoken.value },
      body: JSON.stringify(payload(extra)) }).then(function (r) { return r.json().then(function (d) { return [r.status, d]; }); })
      .then(function (x) {
        var d = x[1];
        if (x[0] !== 201) { result.innerHTML = "<p class='msg err'>" + gis311.esc(d.detail) + "</p>"; return; }
        var html = "<p class='msg'>" + (d.location_note && d.lon === null ? "<b id='to-confirm'>Location to confirm</b>: " : "") +
          "Filed <b id='ticket'>" + gis311.esc(d.ticket) + "</b> (ward " + gis311.esc(d.ward_number) +
          ", " + gis311.esc(d.department_name) + ", due " + gis311.esc(when(d.due_at)) + ")" +
          "<br><small id='spelled'>" + gis311.esc(spell(d.ticket)) + "</small>";
        if (d.duplicate_of) html += ", attached to <b id='parent'>" + gis311.esc(d.duplicate_of) + "</b>: " +
          gis311.esc(d.counts.raw_requests) + " reports, " + gis311.esc(d.counts.reporters) + " callers";
        result.innerHTML = html + ".</p>";
        var edit = document.createElement("button"); edit.type = "button"; edit.id = "edit-filed";
        edit.textContent = "Correct this request (pin, address, type)";
        edit.onclick = function () { startEdit(d); };
        result.appendChild(edit);
        // Ready for the next call: the form, the pin, the questions and the repeats are cleared.
        form.reset(); clearPin(); drawAttributes(); shown.clearLayers(); strong = []; confirmedNew = false; lastQuery = "";
        list.textContent = "Drop a pin to see open issues nearby.";
        document.getElementById("goes-to").hidden = true; document.getElementById("found").textContent = "";
        document.getElementById("here").textContent = ""; document.getElementById("here").className = "";
      });
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); if (!editing) submit(); });

  // Information calls: answers from the knowledge base as the clerk types; the answer given (or that none fit)
  // is logged as an information contact, so the reports count calls by topic.
  var kbTimer = null, kbBox = document.getElementById("kb-results"), kbInput = document.getElementById("kb-q");
  function logContact(articleId) {
    var body = { question: kbInput.value.trim(), article: articleId };
    return fetch(el.dataset.kbLog, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.csrfmiddlewaretoken.value },
      body: JSON.stringify(body) }).then(function (r) {
        kbBox.innerHTML = r.status === 201 ? "<p class='msg' id='kb-logged'>Information call logged.</p>" :
          "<p class='msg err'>Not logged (HTTP " + r.status + ").</p>";
        kbInput.value = "";
      });
  }
  kbInput.addEventListener("input", function () {
    clearTimeout(kbTimer);
    var q = kbInput.value.trim();
    if (q.length < 2) { kbBox.innerHTML = ""; return; }
    kbTimer = setTimeout(function () {
      fetch(el.dataset.kb + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.json(); }).then(function (d) {
          kbBox.innerHTML = "";
          (d.articles || []).forEach(function (a) {
            var div = document.createElement("div"); div.className = "article";
            div.innerHTML = "<b>" + gis311.esc(a.title) + "</b>" + (a.review_due ? " <small>(due for review)</small>" : "") +
              "<br>" + gis311.esc(a.answer) + "<br>";
            var use = document.createElement("button"); use.type = "button"; use.className = "kb-use";
            use.textContent = "Answered with this"; use.onclick = function () { logContact(a.id); };
            div.appendChild(use); kbBox.appendChild(div);
          });
          var none = document.createElement("button"); none.type = "button"; none.id = "kb-none";
          none.textContent = d.articles && d.articles.length ? "None of these fit" : "No answer found: log the question";
          none.onclick = function () { logContact(null); };
          kbBox.appendChild(none);
        });
    }, 250);
  });

  // Correcting a filed request (a caller who misspoke): the same form, saved through the edit verbs, which
  // re-route and re-date it and write the audit trail. Only what changed is sent.
  var editing = null;
  function startEdit(d) {
    editing = d;
    document.getElementById("service_code").value = d.service_code; drawAttributes();
    document.getElementById("address").value = d.address || "";
    if (d.lat !== null) place(L.latLng(d.lat, d.lon));
    var bar = document.getElementById("editing");
    bar.hidden = false; document.getElementById("file").hidden = true;
    bar.querySelector("span").textContent = "Correcting " + d.ticket + ": move the pin, correct the address or change the type, then save.";
  }
  function stopEdit() {
    editing = null; document.getElementById("editing").hidden = true; document.getElementById("file").hidden = false;
    lastQuery = "";
    form.reset(); clearPin(); drawAttributes(); shown.clearLayers();
    list.textContent = "Drop a pin to see open issues nearby.";
  }
  document.getElementById("cancel-edit").addEventListener("click", stopEdit);
  // Opened from the "locations to confirm" queue: load that request for placing.
  var confirming = new URLSearchParams(location.search).get("confirm");
  if (confirming) {
    fetch(el.dataset.detail.replace("TICKET", encodeURIComponent(confirming)), { credentials: "same-origin" })
      .then(function (r) { return r.json(); }).then(function (d) {
        if (!d.ticket) return problem(d.detail || "no such request");
        startEdit(d);
        document.getElementById("found").textContent = "The caller said: " + (d.location_note || "");
      });
  }
  document.getElementById("save-edit").addEventListener("click", function () {
    var body = { version: editing.version }, lon = document.getElementById("lon").value, lat = document.getElementById("lat").value;
    if (lon && (Number(lon).toFixed(6) !== Number(editing.lon).toFixed(6) || Number(lat).toFixed(6) !== Number(editing.lat).toFixed(6))) {
      body.lon = lon; body.lat = lat;
    }
    if (typed() !== (editing.address || "")) body.address = typed();
    var code = document.getElementById("service_code").value;
    if (code && code !== editing.service_code) body.service_code = code;
    fetch(el.dataset.edit.replace("TICKET", editing.ticket), { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.csrfmiddlewaretoken.value },
      body: JSON.stringify(body) }).then(function (r) { return r.json().then(function (d) { return [r.status, d]; }); })
      .then(function (x) {
        var d = x[1];
        if (x[0] !== 200) return problem(d.detail);
        stopEdit();
        result.innerHTML = "<p class='msg' id='edited'>Saved " + gis311.esc(d.ticket) + ": " + gis311.word("district") + " " + gis311.esc(d.ward_number) +
          ", " + gis311.esc(d.department_name) + ", due " + gis311.esc(when(d.due_at)) + ".</p>";
      });
  });
})();
