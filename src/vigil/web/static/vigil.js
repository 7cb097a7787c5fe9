// Vigil operator UI: a little progressive enhancement; every page works without it.
(function () {
  "use strict";

  // Snapshots that refresh: <img data-refresh="URL" data-every="seconds">.
  function refresh(img) {
    var url = img.getAttribute("data-refresh");
    img.src = url + (url.indexOf("?") < 0 ? "?" : "&") + "t=" + Date.now();
  }
  document.querySelectorAll("img[data-refresh]").forEach(function (img) {
    var every = Number(img.getAttribute("data-every") || 30) * 1000;
    img.addEventListener("error", function () { img.classList.add("missing"); });
    img.addEventListener("load", function () { img.classList.toggle("missing", img.naturalWidth === 0); });
    setInterval(function () { if (!document.hidden) refresh(img); }, every);
  });

  // The page's CSP allows no inline handlers or style attributes, so these live here:
  // filters that apply when changed (<select data-autosubmit>) and meter fills (data-share="%").
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  document.querySelectorAll("[data-share]").forEach(function (fill) {
    fill.style.width = Number(fill.getAttribute("data-share")) + "%";
  });

  // Broken images say so instead of showing a broken icon.
  document.querySelectorAll(".img-wrap img, img.thumb").forEach(function (img) {
    img.addEventListener("error", function () {
      var note = document.createElement("span");
      note.className = "snap-empty";
      note.textContent = "image unavailable";
      img.replaceWith(note);
    });
  });

  // Loading state: a submitted form's button shows it is working and cannot be pressed twice.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.method.toLowerCase() !== "post") return;
    var button = form.querySelector("button");
    if (button) {
      setTimeout(function () { button.disabled = true; button.classList.add("busy"); }, 0);
    }
  });

  // Review shortcuts: j/k next/previous, c confirm, r reject (focus the reason), Esc leave a field.
  var card = document.querySelector("[data-testid=candidate]");
  if (card) {
    document.addEventListener("keydown", function (ev) {
      var t = ev.target;
      var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
      if (ev.key === "Escape" && typing) { t.blur(); return; }
      if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var go = function (id) {
        if (id) location.href = "/review?id=" + encodeURIComponent(id) + "&" + card.getAttribute("data-query");
      };
      if (ev.key === "j") { go(card.getAttribute("data-next")); }
      else if (ev.key === "k") { go(card.getAttribute("data-prev")); }
      else if (ev.key === "c") {
        var confirm = document.getElementById("confirm-form");
        if (confirm && !confirm.querySelector("button").disabled) { ev.preventDefault(); confirm.requestSubmit(); }
      } else if (ev.key === "r") {
        var reason = document.getElementById("reject-reason");
        if (reason) { ev.preventDefault(); reason.focus(); }
      }
    });
  }

  // New candidates while reviewing (server-sent events, your cameras only).
  var live = document.getElementById("live");
  if (live && window.EventSource) {
    var source = new EventSource("/api/alerts/stream");
    source.addEventListener("alert", function (ev) {
      var a = JSON.parse(ev.data);
      live.hidden = false;
      live.innerHTML = "";
      live.append("New candidate on " + (a.camera_id || "a camera") + ". ");
      var link = document.createElement("a");
      link.href = "/review";
      link.textContent = "Reload the queue";
      live.append(link);
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }
})();
