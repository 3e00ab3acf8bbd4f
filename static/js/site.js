// On a page that comes back with errors, the first field in error takes the focus, so that a
// screen reader announces it with its message (aria-describedby) and the keyboard is there.
(function () {
  "use strict";
  const invalid = document.querySelector('main [aria-invalid="true"]');
  if (invalid) invalid.focus();
})();
