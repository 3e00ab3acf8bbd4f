// On a page that comes back with errors, the first field in error takes the focus, so that a
// screen reader announces it with its message (aria-describedby) and the keyboard is there.
(function () {
  "use strict";
  const invalid = document.querySelector('main [aria-invalid="true"]');
  if (invalid) invalid.focus();
})();

// Progress bars take their width from data-width (a percentage): the Content Security Policy
// refuses style="" attributes, but not a style set from a script.
(function () {
  "use strict";
  document.querySelectorAll(".progress-bar[data-width]").forEach(function (bar) {
    bar.style.width = bar.dataset.width + "%";
  });
})();

// A <select data-submit-on-change> sends its form when the choice changes (no inline onchange:
// the Content Security Policy refuses inline scripts).
(function () {
  "use strict";
  document.querySelectorAll("select[data-submit-on-change]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
