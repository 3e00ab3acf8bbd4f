// Progressive enhancement of the buy form: add a name row without a round trip, and switch the
// parent's label to the father's name when "in memory of" is ticked. Without JavaScript the
// same buttons work through the server.
(function () {
  "use strict";
  const form = document.getElementById("buy-form");
  if (!form) return;
  const rows = document.getElementById("name-rows");
  const template = document.getElementById("empty-name-row");
  const total = form.querySelector('input[name="names-TOTAL_FORMS"]');
  const maximum = parseInt(form.querySelector('input[name="names-MAX_NUM_FORMS"]').value, 10);

  function updateParentLabel(checkbox) {
    const row = checkbox.closest(".name-row");
    const input = row.querySelector('input[name$="parent_hebrew_name"]');
    if (!input.dataset.labelDeceased) return; // this campaign names one parent for everyone
    const label = row.querySelector('label[for="' + input.id + '"]');
    const text = checkbox.checked ? input.dataset.labelDeceased : input.dataset.labelLiving;
    if (label) label.firstChild.textContent = text;
  }

  document.getElementById("add-name").addEventListener("click", function (event) {
    const count = parseInt(total.value, 10);
    if (count >= maximum) return;
    event.preventDefault();
    const html = template.innerHTML.replace(/__prefix__/g, String(count));
    rows.insertAdjacentHTML("beforeend", html);
    total.value = String(count + 1);
    rows.lastElementChild.querySelector('input[name$="hebrew_name"]').focus();
  });

  form.addEventListener("change", function (event) {
    if (event.target.matches(".js-deceased")) updateParentLabel(event.target);
  });
  form.querySelectorAll(".js-deceased").forEach(updateParentLabel);
})();
