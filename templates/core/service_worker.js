{% autoescape off %}/* Tempo's service worker (served at /sw.js by apps.core.views.service_worker).

   - install: store this deploy's hashed static files and the offline page, then take over
     at once (skipWaiting): pages always come from the network, so a new worker can
     replace the old one without any page seeing stale HTML.
   - activate: delete the caches of earlier deploys, turn on navigation preload, then
     control the open pages.
   - fetch: hashed static files cache-first; page navigations network-first, the offline
     page when the network fails; everything else (the API, htmx polls, unhashed files,
     anything not GET) goes to the network untouched. Nothing answered with no-store or
     private is stored, and no page is stored at all. */
"use strict";

const CONFIG = {{ config }};
const PREFIX = "tempo-static-";
const CACHE = PREFIX + CONFIG.version;
// collectstatic's hashed names: name.0123456789ab.ext
const HASHED = /\.[0-9a-f]{12}\.[A-Za-z0-9]+$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll([...CONFIG.precache, new Request(CONFIG.offline, { cache: "reload" })]))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(
        names.filter((name) => name.startsWith(PREFIX) && name !== CACHE).map((name) => caches.delete(name))
      ))
      // The page request starts while the worker boots, so a page costs no worker start-up.
      .then(() => self.registration.navigationPreload && self.registration.navigationPreload.enable())
      .then(() => self.clients.claim())
  );
});

function storable(response) {
  const control = (response.headers.get("Cache-Control") || "").toLowerCase();
  return response.ok && response.type === "basic" && !/no-store|private/.test(control);
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (storable(response)) await cache.put(request, response.clone());
  return response;
}

async function networkFirst(event) {
  try {
    return (await event.preloadResponse) || (await fetch(event.request));
  } catch (error) {
    const offline = await caches.match(CONFIG.offline, { cacheName: CACHE });
    if (offline) return offline;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (CONFIG.never.some((path) => url.pathname.startsWith(path))) return;
  if (url.pathname.startsWith(CONFIG.static) && HASHED.test(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(networkFirst(event));
  }
});
{% endautoescape %}