// New candidates on every page: polls /alerts/summary every second (also in a background tab,
// where the count in the title is what an operator sees). A candidate newer than the last one
// seen shows the banner; the title carries the pending count. "Seen" is kept per tab
// (sessionStorage), so moving between pages does not raise the same candidate again. An
// optional tone (off unless the header's "Sound" button turns it on; kept per browser) plays
// once per new candidate, made with the Web Audio API (no sound file).
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
  var SOUND = "vigil.alerts.sound";
  var ANNOUNCED = "vigil.alerts.announced";
  var toggle = document.querySelector("[data-alert-sound]");
  var audio = null;

  function soundOn() { return localStorage.getItem(SOUND) === "on"; }
  function showToggle() {
    if (!toggle) return;
    toggle.textContent = soundOn() ? "Sound on" : "Sound off";
    toggle.setAttribute("aria-pressed", soundOn() ? "true" : "false");
  }
  function tone() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    audio = audio || new Ctx();
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.4);
    banner.setAttribute("data-tones", String(Number(banner.getAttribute("data-tones") || 0) + 1));
  }
  if (toggle) {
    showToggle();
    toggle.addEventListener("click", function () {
      localStorage.setItem(SOUND, soundOn() ? "off" : "on");
      showToggle();
      if (soundOn() && !audio && (window.AudioContext || window.webkitAudioContext)) {
        audio = new (window.AudioContext || window.webkitAudioContext)();  // created on a click: allowed to play
      }
    });
  }

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
        document.dispatchEvent(new CustomEvent("vigil:summary", { detail: s }));
        document.title = (s.pending > 0 ? "(" + s.pending + ") " : "") + baseTitle;
        document.querySelectorAll("[data-pending-camera]").forEach(function (el) {  // the overview's counts
          var n = s.by_camera[el.getAttribute("data-pending-camera")] || 0;
          el.textContent = String(n);
          if (el instanceof SVGElement) {  // the site plan's dot: hidden at 0
            el.setAttribute("visibility", n ? "visible" : "hidden");
            if (el.previousElementSibling) el.previousElementSibling.setAttribute("visibility", n ? "visible" : "hidden");
          }
        });
        document.querySelectorAll("[data-day-camera]").forEach(function (el) {
          el.textContent = String((s.day_by_camera || {})[el.getAttribute("data-day-camera")] || 0);
        });
        var first = seen() === null;
        // What is pending when the tab first looks is not new; on the review page, a candidate
        // already in the queue on screen is in front of them.
        var onScreen = newest && document.querySelector('[data-candidate="' + CSS.escape(newest.id) + '"]');
        if (first || onScreen) markSeen();
        if (newest && newest.id !== seen()) {
          text.textContent = "New candidate at " + newest.camera + " · " + s.pending + " awaiting review";
          open.href = "/review?id=" + encodeURIComponent(newest.id);
          if (soundOn() && sessionStorage.getItem(ANNOUNCED) !== newest.id) tone();
          sessionStorage.setItem(ANNOUNCED, newest.id);
          banner.hidden = false;
        }
        setTimeout(poll, EVERY_MS);
      });
    }).catch(function () { setTimeout(poll, EVERY_MS * 4); });
  }
  poll();
})();
