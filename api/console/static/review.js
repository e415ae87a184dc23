// The review queue's keyboard (j/k move, Enter opens, a approves, r rejects), its select-all
// box, the draft page's Edit button, and bringing a quoted chat message into view.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("table[data-queue] tbody tr[data-draft]"));
  }

  function current() {
    return document.querySelector("table[data-queue] tbody tr.current");
  }

  function makeCurrent(row) {
    rows().forEach(function (other) {
      other.classList.remove("current");
      other.setAttribute("aria-selected", "false");
    });
    if (!row) {
      return;
    }
    row.classList.add("current");
    row.setAttribute("aria-selected", "true");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) {
      return;
    }
    var at = all.indexOf(current());
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(Math.max(at + step, 0), all.length - 1);
    makeCurrent(all[next]);
  }

  function announce(text) {
    var status = document.getElementById("queue-status");
    if (status) {
      status.textContent = text;
    }
  }

  // Posts an action for the current row and puts the server's new row in its place, then
  // moves on to the next row.
  function act(row, action, fields) {
    var id = row.getAttribute("data-draft");
    var body = new FormData();
    Object.keys(fields).forEach(function (name) { body.append(name, fields[name]); });
    var all = rows();
    var nextIndex = all.indexOf(row) + 1;
    return fetch("/app/drafts/" + id + "/" + action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "HX-Request": "true" },
    }).then(function (response) {
      var redirect = response.headers.get("HX-Redirect");
      if (redirect) {
        window.location.assign(redirect);
        return null;
      }
      if (!response.ok) {
        throw new Error("the server answered " + response.status);
      }
      return response.text();
    }).then(function (html) {
      if (html === null) {
        return;
      }
      row.outerHTML = html;
      var replaced = document.getElementById("draft-" + id);
      announce(replaced ? replaced.getAttribute("data-note") || "" : "");
      var after = rows();
      makeCurrent(after[Math.min(nextIndex, after.length - 1)]);
    }).catch(function (error) {
      announce("Draft #" + id + " was not changed: " + error.message);
    });
  }

  function typing(target) {
    if (!target || !target.tagName) {
      return false;
    }
    var tag = target.tagName.toLowerCase();
    if (tag === "input" && (target.type === "checkbox" || target.type === "radio")) {
      return false;  // a ticked box is not a field being typed in
    }
    return tag === "input" || tag === "textarea" || tag === "select" || target.isContentEditable;
  }

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var row = current();
    if (event.key === "j") {
      move(1);
    } else if (event.key === "k") {
      move(-1);
    } else if (event.key === "Enter" && row && (event.target === row || event.target === document.body)) {
      window.location.assign(row.getAttribute("data-href"));
    } else if (event.key === "a" && row) {
      act(row, "approve", {});
    } else if (event.key === "r" && row) {
      var reason = window.prompt("Why reject draft #" + row.getAttribute("data-draft") + "?");
      if (reason && reason.trim()) {
        act(row, "reject", { reason: reason.trim() });
      }
    } else {
      return;
    }
    event.preventDefault();
  }

  function setUpQueue() {
    if (!document.querySelector("table[data-queue]")) {
      return;
    }
    document.addEventListener("keydown", onKey);
    var all = document.getElementById("pick-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll('table[data-queue] tbody input[name="draft"]').forEach(function (box) {
          if (!box.disabled) {
            box.checked = all.checked;
          }
        });
      });
    }
    // A click on a row makes it the current one (the keys then act on it).
    document.querySelector("table[data-queue] tbody").addEventListener("click", function (event) {
      var row = event.target.closest("tr[data-draft]");
      if (row && !event.target.closest("a, input, label")) {
        makeCurrent(row);
      }
    });
  }

  function setUpEdit() {
    var toggle = document.getElementById("edit-toggle");
    var panel = document.getElementById("edit-panel");
    if (!toggle || !panel) {
      return;
    }
    toggle.addEventListener("click", function () {
      var open = panel.hidden;
      panel.hidden = !open;
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) {
        document.getElementById("edit-body").focus();
      }
    });
  }

  function showHighlighted() {
    var quoted = document.getElementById("highlighted");
    if (quoted && quoted.classList.contains("turn")) {
      quoted.scrollIntoView({ block: "center" });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpQueue();
    setUpEdit();
    showHighlighted();
  });
})();
