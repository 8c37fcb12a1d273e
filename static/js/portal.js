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
})();
