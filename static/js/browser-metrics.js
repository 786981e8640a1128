/* Browser metrics beacon (apps.monitoring): First Contentful Paint, Largest Contentful
   Paint, Cumulative Layout Shift and navigation timing, sent once with sendBeacon when the
   page is hidden. No library; nothing is sent where the browser lacks the APIs. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !navigator.sendBeacon || !window.PerformanceObserver) return;
  var endpoint = script.getAttribute("data-endpoint");
  var sample = parseFloat(script.getAttribute("data-sample") || "1");
  if (!endpoint || Math.random() >= sample) return;

  var values = {};
  var cls = 0;
  var sent = false;

  function observe(type, handler) {
    try {
      new PerformanceObserver(function (list) { list.getEntries().forEach(handler); })
        .observe({ type: type, buffered: true });
    } catch (e) { /* this browser does not report this entry type */ }
  }
  observe("paint", function (entry) {
    if (entry.name === "first-contentful-paint") values.fcp = entry.startTime;
  });
  observe("largest-contentful-paint", function (entry) { values.lcp = entry.startTime; });
  observe("layout-shift", function (entry) {
    if (!entry.hadRecentInput) { cls += entry.value; values.cls = cls; }
  });

  function send() {
    if (sent) return;
    sent = true;
    var nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    if (nav) {
      if (nav.responseStart > 0) values.ttfb = nav.responseStart;
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
