// Polls the import's status and reloads the page once the step under way is done.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) return;
  var bar = box.querySelector(".progress-bar");
  var rows = document.getElementById("import-rows");
  function poll() {
    fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (status) {
        if (status.status !== "checking" && status.status !== "importing") {
          window.location.reload();
          return;
        }
        rows.textContent = status.rows_done.toLocaleString();
        if (status.row_count) {
          bar.style.width = Math.min(100, Math.round((100 * status.rows_done) / status.row_count)) + "%";
          bar.parentElement.setAttribute("aria-valuenow", status.rows_done);
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
