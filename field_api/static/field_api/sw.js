/* The crew tablet's service worker (served at /field/sw.js with SHELL and VERSION prepended by the server).
   The shell (page, code, styles, map library, icons) is cached at install and served cache-first, so the page
   opens with no signal; a new VERSION replaces the old cache when the tablet is next online. The crew API is
   not cached here: the page keeps the route, the map of its area and the queue of updates in IndexedDB. */
/* global SHELL, VERSION */
"use strict";
var CACHE = "gis311-field-" + VERSION;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("gis311-field-") === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin || url.pathname.indexOf("/api/") === 0) return;
  var isPhoto = url.pathname.indexOf("/field/photos/") === 0;
  if (req.mode === "navigate" && url.pathname.indexOf("/field/") === 0) {
    // The page: the network when there is one (a new release), else the cached shell.
    event.respondWith(fetch(req).then(function (resp) {
      if (resp.ok) { var copy = resp.clone(); caches.open(CACHE).then(function (c) { c.put("/field/", copy); }); }
      return resp;
    }).catch(function () { return caches.match("/field/"); }));
    return;
  }
  if (SHELL.indexOf(url.pathname) >= 0 || isPhoto) {
    // Shell files and the reporters' photos: from the cache, else fetched once and kept.
    event.respondWith(caches.match(req, { ignoreSearch: !isPhoto }).then(function (hit) {
      return hit || fetch(req).then(function (resp) {
        if (resp.ok) { var copy = resp.clone(); caches.open(CACHE).then(function (c) { c.put(req, copy); }); }
        return resp;
      });
    }));
  }
});
