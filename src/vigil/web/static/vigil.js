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

  // Confirming waits a few seconds with an Undo (button, u or Esc) before it is sent, so a
  // stray click or a single "c" never confirms irrevocably. Without JavaScript the button posts.
  var confirmForm = document.getElementById("confirm-form");
  var undo = null;
  if (confirmForm) {
    var bar = document.querySelector("[data-testid=confirm-pending]");
    var barText = bar.querySelector("[data-undo-text]");
    var confirmButton = confirmForm.querySelector("button.primary");
    var waitS = Number(confirmForm.getAttribute("data-undo-s") || 5);
    var timer = null;
    undo = function () {
      if (timer === null) return false;
      clearInterval(timer);
      timer = null;
      bar.hidden = true;
      confirmButton.disabled = false;
      return true;
    };
    confirmForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      if (timer !== null || confirmButton.disabled) return;
      var left = waitS;
      var show = function () { barText.textContent = "Confirming in " + left + " s…"; };
      show();
      bar.hidden = false;
      confirmButton.disabled = true;
      timer = setInterval(function () {
        left -= 1;
        if (left > 0) { show(); return; }
        clearInterval(timer);
        timer = null;
        barText.textContent = "Sending your confirmation…";
        bar.querySelector("[data-undo]").disabled = true;
        HTMLFormElement.prototype.submit.call(confirmForm);
      }, 1000);
    }, true);
    bar.querySelector("[data-undo]").addEventListener("click", function () { undo(); });
  }

  // Case export: sent from here so the page can say it worked, save the zip and list the
  // export in the history (without this script the browser downloads the zip itself).
  document.querySelectorAll("form[data-export]").forEach(function (form) {
    var done = form.querySelector("[data-testid=export-done]");
    var failed = form.querySelector("[data-testid=export-failed]");
    var button = form.querySelector("button");
    form.addEventListener("submit", function (ev) {
      if (!window.fetch || !window.Blob) return;
      ev.preventDefault();
      ev.stopImmediatePropagation();
      var data = new FormData(form);
      button.disabled = true;
      button.classList.add("busy");
      done.hidden = true;
      failed.hidden = true;
      fetch(form.action, { method: "POST", body: data, credentials: "same-origin" }).then(function (r) {
        if (!r.ok || (r.headers.get("Content-Type") || "").indexOf("application/zip") !== 0) {
          return r.text().then(function (text) {
            var page = new DOMParser().parseFromString(text, "text/html");
            var why = page.querySelector(".flash.error, main p");
            throw new Error(why ? why.textContent.trim() : "the export failed (" + r.status + ")");
          });
        }
        var name = (/filename="([^"]+)"/.exec(r.headers.get("Content-Disposition") || "") || [])[1] || "case.zip";
        var files = r.headers.get("X-Export-Files") || "";
        var sha = r.headers.get("X-Manifest-SHA256") || "";
        return r.blob().then(function (blob) {
          var url = URL.createObjectURL(blob);
          var a = document.createElement("a");
          a.href = url;
          a.download = name;
          document.body.append(a);
          a.click();
          a.remove();
          setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
          done.textContent = "Exported " + name + ": " + files + " files, manifest SHA-256 " + sha.slice(0, 16) +
            "…, saved to your downloads. The export is recorded in the audit log.";
          done.hidden = false;
          addHistoryRow(data, files, sha);
          form.querySelector("input[name=reason]").value = "";
        });
      }).catch(function (err) {
        failed.textContent = "Not exported: " + err.message;
        failed.hidden = false;
      }).finally(function () {
        button.disabled = false;
        button.classList.remove("busy");
      });
    }, true);
  });

  function addHistoryRow(data, files, sha) {
    var section = document.querySelector("[data-testid=export-history]");
    if (!section) return;
    var body = section.querySelector("tbody");
    if (!body) {
      var empty = section.querySelector("[data-testid=no-exports]");
      if (empty) empty.remove();
      var table = document.createElement("table");
      table.className = "data cards";
      table.innerHTML = "<thead><tr><th>When (UTC)</th><th>By</th><th>Redacted</th><th>Files</th>" +
        "<th>Manifest SHA-256</th><th>Reason</th></tr></thead><tbody></tbody>";
      section.append(table);
      body = table.querySelector("tbody");
    }
    var who = document.querySelector("[data-testid=whoami]");
    var cells = [
      ["When", new Date().toISOString().slice(0, 19).replace("T", " ")],
      ["By", who ? who.firstChild.textContent.trim() : ""],
      ["Redacted", data.get("unredacted") ? "unredacted" : "yes"],
      ["Files", files],
      ["Manifest", sha.slice(0, 16) + "…"],
      ["Reason", data.get("reason") || ""],
    ];
    var row = document.createElement("tr");
    cells.forEach(function (c) {
      var td = document.createElement("td");
      td.setAttribute("data-label", c[0]);
      td.textContent = c[1];
      row.append(td);
    });
    body.prepend(row);
  }

  // Review shortcuts: j/k next/previous, c confirm, u undo, r reject (focus the reason), Esc leave a field.
  var card = document.querySelector("[data-testid=candidate]");
  if (card) {
    document.addEventListener("keydown", function (ev) {
      var t = ev.target;
      var typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT");
      if (ev.key === "Escape" && typing) { t.blur(); return; }
      if ((ev.key === "u" || ev.key === "Escape") && !typing && undo && undo()) { ev.preventDefault(); return; }
      if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var go = function (id) {
        if (id) location.href = "/review?id=" + encodeURIComponent(id) + "&" + card.getAttribute("data-query");
      };
      if (ev.key === "j") { go(card.getAttribute("data-next")); }
      else if (ev.key === "k") { go(card.getAttribute("data-prev")); }
      else if (ev.key === "c") {
        if (confirmForm && !confirmForm.querySelector("button.primary").disabled) { ev.preventDefault(); confirmForm.requestSubmit(); }
      } else if (ev.key === "r") {
        var reason = document.getElementById("reject-reason");
        if (reason) { ev.preventDefault(); reason.focus(); }
      }
    });
  }

  // The review queue redraws in place when the pending set changes: alerts.js announces each
  // summary it fetches ("vigil:summary"); the queue (an audited listing) is asked for only
  // when the count or the newest candidate differs from what is drawn.
  var queue = document.querySelector("[data-testid=queue]");
  var drawn = null;
  if (queue) {
    document.addEventListener("vigil:summary", function (ev) {
      var s = ev.detail;
      var key = s.pending + "/" + (s.newest ? s.newest.id : "");
      if (drawn === null) { drawn = key; return; }  // what the page was drawn with
      if (key === drawn) return;
      drawn = key;
      var box = document.querySelector("[data-testid=queue]");
      var q = "status=" + encodeURIComponent(box.getAttribute("data-queue-status")) +
        "&camera_id=" + encodeURIComponent(box.getAttribute("data-queue-camera")) +
        (card ? "&current=" + encodeURIComponent(card.getAttribute("data-id")) : "");
      fetch("/review/queue?" + q, { cache: "no-store", credentials: "same-origin" }).then(function (r) {
        return r.ok ? r.text() : null;
      }).then(function (text) {
        if (!text) return;
        var holder = document.createElement("div");
        holder.innerHTML = text;
        var fresh = holder.querySelector("[data-testid=queue]");
        if (fresh) document.querySelector("[data-testid=queue]").replaceWith(fresh);
      });
    });
  }

})();
