// New candidates on every page: polls /alerts/summary every second (also in a background tab,
// where the count in the title is what an operator sees). A candidate newer than the last one
// seen shows the banner; the title carries the pending count. "Seen" is kept per tab
// (sessionStorage), so moving between pages does not raise the same candidate again.
(function () {
  "use strict";
  var banner = document.getElementById("alert-banner");
  if (!banner || !window.fetch) return;
  var EVERY_MS = 1000;
  var KEY = "vigil.alerts.seen";
  var baseTitle = document.title;
  var text = banner.querySelector("[data-alert-text]");
  var open = banner.querySelector("[data-alert-open]");
  var newest = null;

  function seen() { return sessionStorage.getItem(KEY); }
  // "-": this tab has looked and nothing was pending (so the next candidate is new).
  function markSeen() { sessionStorage.setItem(KEY, newest ? newest.id : "-"); }

  banner.querySelector("[data-alert-dismiss]").addEventListener("click", function () {
    markSeen();
    banner.hidden = true;
  });
  open.addEventListener("click", markSeen);

  function poll() {
    fetch("/alerts/summary", { cache: "no-store", credentials: "same-origin" }).then(function (r) {
      if (r.status === 401 || r.status === 403) return null;  // signed out: stop
      if (!r.ok) { setTimeout(poll, EVERY_MS * 4); return null; }
      return r.json().then(function (s) {
        newest = s.newest;
        document.title = (s.pending > 0 ? "(" + s.pending + ") " : "") + baseTitle;
        document.querySelectorAll("[data-pending-camera]").forEach(function (el) {  // the overview's counts
          el.textContent = String(s.by_camera[el.getAttribute("data-pending-camera")] || 0);
        });
        var first = seen() === null;
        if (location.pathname === "/review" || first) markSeen();  // the queue is in front of them
        if (newest && newest.id !== seen()) {
          text.textContent = "New candidate at " + newest.camera + " · " + s.pending + " awaiting review";
          open.href = "/review?id=" + encodeURIComponent(newest.id);
          banner.hidden = false;
        }
        setTimeout(poll, EVERY_MS);
      });
    }).catch(function () { setTimeout(poll, EVERY_MS * 4); });
  }
  poll();
})();
