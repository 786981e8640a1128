/* Browser metrics beacon (apps.monitoring): the Core Web Vitals and their helpers, sent once
   with sendBeacon when the page is hidden, computed as the web-vitals library defines them:
   - FCP: the first-contentful-paint paint entry.
   - LCP: the last largest-contentful-paint entry before the first input or hide.
   - CLS: the largest session window of layout shifts without recent input (a window
     ends after a 1 s gap or 5 s in all).
   - INP: per interaction (interactionId) its longest event duration; with N interactions
     on the page, the worst one is skipped for every 50 (about the 98th percentile); one
     or two interactions give the largest.
   - TTFB: the navigation's responseStart; load: its loadEventEnd.
   No library; nothing is sent where the browser lacks the APIs. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !navigator.sendBeacon || !window.PerformanceObserver) return;
  var endpoint = script.getAttribute("data-endpoint");
  var sample = parseFloat(script.getAttribute("data-sample") || "1");
  if (!endpoint || Math.random() >= sample) return;

  var values = {};
  var sent = false;
  var lcpFinal = false;

  function observe(type, handler, options) {
    try {
      var init = { type: type, buffered: true };
      for (var key in options || {}) init[key] = options[key];
      new PerformanceObserver(function (list) { list.getEntries().forEach(handler); }).observe(init);
    } catch (e) { /* this browser does not report this entry type */ }
  }

  observe("paint", function (entry) {
    if (entry.name === "first-contentful-paint") values.fcp = entry.startTime;
  });

  // LCP stops changing once the user interacts (the browser stops reporting too).
  observe("largest-contentful-paint", function (entry) {
    if (!lcpFinal) values.lcp = entry.startTime;
  });
  ["keydown", "click", "pointerdown"].forEach(function (type) {
    addEventListener(type, function () { lcpFinal = true; }, { once: true, capture: true });
  });

  var session = 0;
  var sessionStart = 0;
  var sessionLast = 0;
  observe("layout-shift", function (entry) {
    if (entry.hadRecentInput) return;
    if (session && entry.startTime - sessionLast < 1000 && entry.startTime - sessionStart < 5000) {
      session += entry.value;
    } else {
      session = entry.value;
      sessionStart = entry.startTime;
    }
    sessionLast = entry.startTime;
    values.cls = Math.max(values.cls || 0, session);
  });

  var MAX_KEPT = 10;
  var longest = [];  // the MAX_KEPT longest interactions, longest first: {id, duration}
  var seen = {};  // interactionId -> its record (every interaction, to count them)
  var interactions = 0;
  function interaction(entry) {
    if (!entry.interactionId) return;
    var known = seen[entry.interactionId];
    if (!known) {
      interactions += 1;
      known = seen[entry.interactionId] = { id: entry.interactionId, duration: 0 };
    }
    if (entry.duration <= known.duration) return;
    known.duration = entry.duration;
    if (longest.indexOf(known) < 0) longest.push(known);
    longest.sort(function (a, b) { return b.duration - a.duration; });
    longest.length = Math.min(longest.length, MAX_KEPT);
    var count = typeof performance.interactionCount === "number" ? performance.interactionCount : interactions;
    values.inp = longest[Math.min(longest.length - 1, Math.floor(count / 50))].duration;
  }
  observe("event", interaction, { durationThreshold: 40 });
  observe("first-input", interaction);

  function send() {
    if (sent) return;
    sent = true;
    var nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    if (nav) {
      var activation = nav.activationStart || 0;
      if (nav.responseStart > 0) values.ttfb = Math.max(nav.responseStart - activation, 0);
      if (nav.loadEventEnd > 0) values.load = nav.loadEventEnd;
    }
    var body = { path: location.pathname };
    var any = false;
    Object.keys(values).forEach(function (key) {
      var value = Math.round(values[key] * 1000) / 1000;
      if (isFinite(value) && value >= 0) { body[key] = value; any = true; }
    });
    if (any) navigator.sendBeacon(endpoint, new Blob([JSON.stringify(body)], { type: "text/plain" }));
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") send();
  });
  window.addEventListener("pagehide", send);
})();
