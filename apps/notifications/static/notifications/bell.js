// Keeps the notifications bell current on every page without a reload: a light poll that
// sends the ETag of what is shown and gets 304 (nothing to do) until something changes.
// Plain fetch rather than htmx: htmx is loaded only by the pages that use it.
(function () {
  "use strict";
  var EVERY_MS = 15000;

  function bell() {
    return document.getElementById("notification-bell");
  }

  function poll() {
    var current = bell();
    if (!current || document.hidden) return;
    fetch(current.dataset.poll, {
      headers: current.dataset.etag ? { "If-None-Match": current.dataset.etag } : {},
      credentials: "same-origin",
      cache: "no-store",
    })
      .then(function (response) {
        // 304: unchanged; a redirect means the session ended (leave the page as it is).
        // An unread body keeps the request open: drop it.
        if (response.status !== 200 || response.redirected) {
          if (response.body) response.body.cancel();
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (!html) return;
        var holder = document.createElement("template");
        holder.innerHTML = html.trim();
        var fresh = holder.content.firstElementChild;
        var old = bell();
        if (!fresh || !old || fresh.id !== old.id) return;
        fresh.open = old.open;
        old.replaceWith(fresh);
      })
      .catch(function () {});
  }

  // A bell rendered without a cached state (no tag yet) is filled in at once.
  var first = bell();
  if (first && !first.dataset.etag) poll();
  setInterval(poll, EVERY_MS);
  document.addEventListener("visibilitychange", poll);
})();
