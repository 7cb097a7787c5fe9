// Live view: each <img data-live="URL"> shows the camera's newest frame, asked for again as
// soon as the last one has arrived (at most every 250 ms), while the page is visible. Frames
// come as blobs, so an old one is freed as the next replaces it. Each asks for the width it is
// shown at (device pixels), so a grid tile gets (and the server redacts) a tile-size frame, not
// the camera's full one. No library, nothing external.
(function () {
  "use strict";
  var MIN_GAP_MS = 250;
  var STALE_S = 5;

  function show(tile, text, cls) {
    var state = tile && tile.querySelector("[data-live-state]");
    if (!state) return;
    state.textContent = text;
    state.className = "pill live-state " + cls;
  }

  function run(img) {
    var url = img.getAttribute("data-live");
    var tile = img.closest(".live-tile");
    var current = null;
    var stopped = false;

    function next(delay) {
      if (!stopped) setTimeout(tick, Math.max(0, delay));
    }

    function tick() {
      if (document.hidden) { next(500); return; }
      var started = Date.now();
      var box = img.parentNode && img.parentNode.clientWidth;
      var wide = Math.round((box || 0) * (window.devicePixelRatio || 1));
      var asked = wide > 0 ? url + (url.indexOf("?") < 0 ? "?" : "&") + "w=" + wide : url;
      fetch(asked, { cache: "no-store", credentials: "same-origin" }).then(function (r) {
        if (r.status === 204) { show(tile, "no frame yet", "grey"); next(1000); return null; }
        if (r.status === 403 || r.status === 404 || r.status === 401) {
          stopped = true;
          show(tile, r.status === 403 ? "not allowed" : "unavailable", "red");
          return null;
        }
        if (!r.ok) { show(tile, "error " + r.status, "amber"); next(2000); return null; }
        var seq = Number(r.headers.get("X-Frame-Seq") || 0);
        var age = Number(r.headers.get("X-Frame-Age") || 0);
        return r.blob().then(function (blob) {
          if (seq !== Number(img.getAttribute("data-seq"))) {
            var old = current;
            current = URL.createObjectURL(blob);
            img.src = current;
            if (old) URL.revokeObjectURL(old);
            img.setAttribute("data-seq", String(seq));
            img.setAttribute("data-frames", String(Number(img.getAttribute("data-frames")) + 1));
          }
          if (age > STALE_S) show(tile, "stalled " + Math.round(age) + " s", "amber");
          else show(tile, "live", "green");
          next(MIN_GAP_MS - (Date.now() - started));
        });
      }).catch(function () { show(tile, "reconnecting", "amber"); next(2000); });
    }
    tick();
  }

  document.querySelectorAll("img[data-live]").forEach(run);
})();
