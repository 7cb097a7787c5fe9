// Clip players: say so in words when a clip is not there (none kept yet, still being encoded,
// or removed by retention) instead of showing a broken player.
(function () {
  "use strict";
  function wire(video) {
    if (video.dataset.wired) return;
    video.dataset.wired = "1";
    video.addEventListener("error", function () {
      var fig = video.closest("figure");
      var note = fig && fig.querySelector("[data-clip-state]");
      video.hidden = true;
      if (fig) fig.dataset.state = "missing";
      if (note) note.textContent = "No clip for this event (none kept, still being written, or removed by retention).";
    });
    video.addEventListener("loadeddata", function () {
      var fig = video.closest("figure");
      if (fig) fig.dataset.state = "ready";
    });
  }
  function all() { document.querySelectorAll("video[data-clip]").forEach(wire); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all); else all();
})();
