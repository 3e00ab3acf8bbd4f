// The thank-you page's "copy the link" button: copies the address in its input (data-copy names
// it) and says so in the status beside it. Without a script, or where the clipboard is refused,
// the address stays selectable in its read-only input.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    const input = document.getElementById(button.dataset.copy);
    const status = document.getElementById(button.dataset.status);
    if (!input) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      input.select();
      const done = function () { if (status) status.textContent = button.dataset.copied; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          if (status) status.textContent = button.dataset.failed;
        });
      } else {
        if (status) status.textContent = button.dataset.failed;
      }
    });
  });
})();
