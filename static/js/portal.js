/* The portal's only script besides htmx. The Content-Security-Policy forbids inline scripts
   and eval, so behaviour that htmx would express with hx-on or a trigger filter lives here.
   Every page works without it. */
(function () {
  "use strict";

  /* A form with data-progress="#id" (the upload confirmation): while its request runs, ask
     the element #id to refresh itself every second (its hx-trigger is "progress-tick"). */
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    var selector = form && form.dataset ? form.dataset.progress : null;
    var target = selector ? document.querySelector(selector) : null;
    if (!target || !window.htmx) return;
    var timer = window.setInterval(function () { window.htmx.trigger(target, "progress-tick"); }, 1000);
    form.addEventListener("htmx:afterRequest", function () { window.clearInterval(timer); }, { once: true });
  });

  /* htmx updates announce themselves. A list region is replaced whole (hx-swap="outerHTML"), and a
     screen reader does not announce a live region that is itself new, so the page keeps one
     persistent live region (#live-status in base.html) and says there what the new content's
     summary says ("共 N 条…", an error message). Regions that persist and carry aria-live
     themselves (the search results) announce on their own. While a request runs its target is
     aria-busy. */
  function swapTarget(event) {
    var detail = event.detail || {};
    return detail.target || (detail.requestConfig && detail.requestConfig.target) || null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = swapTarget(event);
    if (target && target.setAttribute) target.setAttribute("aria-busy", "true");
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var status = document.getElementById("live-status");
    var target = swapTarget(event);
    if (!target) return;
    var id = target.id;
    var current = (id && document.getElementById(id)) || target;
    if (current.removeAttribute) current.removeAttribute("aria-busy");
    if (!status || !current.closest || current.closest("[aria-live]")) return;
    var source = current.querySelector && current.querySelector("[role=alert], [role=status], .summary");
    var text = (source ? source.textContent : "").replace(/\s+/g, " ").trim();
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text || "内容已更新。"; }, 50);
    /* Keyboard users keep their place: the link or field they used was replaced with the region;
       focus the new region instead of letting focus fall back to the top of the page. */
    if (document.activeElement === document.body || !document.activeElement) {
      if (!current.hasAttribute("tabindex")) current.setAttribute("tabindex", "-1");
      current.focus({ preventScroll: true });
    }
  });

  /* The 长者模式 toggle returns to the page being read: after htmx pushed new filters into the
     address bar, point its `next` at the new address (without JavaScript the page reloads anyway). */
  function followAddress() {
    var toggle = document.getElementById("display-toggle");
    if (!toggle) return;
    var url = new URL(toggle.href, window.location.href);
    url.searchParams.set("next", window.location.pathname + window.location.search);
    toggle.href = url.pathname + url.search;
  }
  document.addEventListener("htmx:pushedIntoHistory", followAddress);
  document.addEventListener("htmx:replacedInHistory", followAddress);
  document.addEventListener("htmx:historyRestore", followAddress);

  document.addEventListener("htmx:afterRequest", function (event) {
    var target = swapTarget(event);
    if (target && target.removeAttribute) target.removeAttribute("aria-busy");
  });
})();
