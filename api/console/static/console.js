// The console's shared behaviour: the CSRF token on every htmx request, confirmations, and
// charts drawn from the Vega-Lite specs a page carries as JSON data blocks.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // <form data-confirm="Are you sure?"> asks before it is sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  // <div data-vega-spec="ID"> is drawn from <script type="application/json" id="ID">.
  function drawCharts(root) {
    if (typeof window.vegaEmbed !== "function") {
      return;
    }
    root.querySelectorAll("[data-vega-spec]").forEach(function (target) {
      var source = document.getElementById(target.getAttribute("data-vega-spec"));
      if (!source || target.getAttribute("data-drawn") === "yes") {
        return;
      }
      target.setAttribute("data-drawn", "yes");
      window.vegaEmbed(target, JSON.parse(source.textContent), {
        actions: false,
        renderer: "svg",
      }).then(function () {
        target.setAttribute("data-chart-ready", "yes");
      }).catch(function (error) {
        target.textContent = "The chart could not be drawn: " + error;
      });
    });
  }

  // A table too wide for the screen scrolls sideways in its .table-wrap: keyboard users must be
  // able to reach and scroll it too, so such a wrapper becomes a named, focusable region.
  function reachableScrolling(root) {
    root.querySelectorAll(".table-wrap").forEach(function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth && !wrap.hasAttribute("tabindex")) {
        var caption = wrap.querySelector("caption");
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", caption ? caption.textContent.trim() : "Table");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    reachableScrolling(document);
  });
  window.addEventListener("resize", function () { reachableScrolling(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    drawCharts(event.target);
    reachableScrolling(event.target);
  });
})();
