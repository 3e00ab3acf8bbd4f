// The data-entry grid: keyboard only, saved to the server as the shliach types (a second after
// the last key, and at once on Enter or on leaving a changed cell), so a closed browser loses
// nothing. The hints here are light; the import's check is the real one.
// A card typed beside its photo uses the same rows without a draft (no data-draft-url): its rows
// go as JSON in the form's "rows" field when it is sent.
(function () {
  "use strict";
  const root = document.getElementById("name-grid");
  if (!root) return;
  const text = root.dataset;
  const body = document.getElementById("grid-rows");
  const template = document.getElementById("grid-row");
  const status = document.getElementById("grid-status");
  const form = document.getElementById("grid-submit-form");
  const submitButton = document.getElementById("grid-submit");
  const csrfToken = form.querySelector('input[name="csrfmiddlewaretoken"]').value;
  const maxRows = parseInt(text.maxRows, 10);
  const autosave = Boolean(text.draftUrl);
  const rowsField = form.querySelector('input[name="rows"]');
  const shownFields = Array.from(template.content.querySelectorAll("[data-field]")).map((cell) => cell.dataset.field);
  const LATIN = /[A-Za-z]/;
  const DATE = /^\d{4}-\d{2}-\d{2}$/;
  const SAVE_AFTER_MS = 1000;

  function format(message, values) {
    return message.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  // --- Cells and rows ------------------------------------------------------------------------

  function cellValue(cell) {
    if (cell.type === "checkbox") return cell.checked ? "yes" : "";
    return cell.value;
  }

  function cellSet(cell, value) {
    if (cell.type === "checkbox") cell.checked = Boolean(value);
    else if (cell.classList.contains("grid-gender")) cell.value = value === "f" ? "f" : "m";
    else if (cell.tagName === "SELECT") {
      // A kind this list does not hold (or "none") is the first choice, no dedication.
      cell.value = value || "";
      if (cell.selectedIndex < 0) cell.selectedIndex = 0;
    } else cell.value = value || "";
  }

  function hint(cell) {
    let message = "";
    if (cell.classList.contains("grid-hebrew") && LATIN.test(cell.value)) message = text.textHintHebrew;
    if (cell.classList.contains("grid-date") && cell.value.trim() && !DATE.test(cell.value.trim())) {
      message = text.textHintDate;
    }
    cell.classList.toggle("grid-hint", Boolean(message));
    cell.title = message;
  }

  // "In memory of" and the dedication "In memory of" are one fact (name_clean keeps them so):
  // each follows the other here, and a departed name with another dedication is hinted; the
  // import's check names the problem.
  const IN_MEMORY = "in_memory";

  function dedicationCells(row) {
    return {
      deceased: row.querySelector('[data-field="deceased"]'),
      kind: row.querySelector('[data-field="dedication_kind"]'),
    };
  }

  function dedicationHint(row) {
    const { deceased, kind } = dedicationCells(row);
    if (!deceased || !kind) return;
    const message = deceased.checked && kind.value && kind.value !== IN_MEMORY ? text.textHintDedication : "";
    kind.classList.toggle("grid-hint", Boolean(message));
    kind.title = message;
  }

  function dedicationFollow(cell) {
    const row = cell.closest("tr");
    const { deceased, kind } = dedicationCells(row);
    if (!deceased || !kind) return;
    if (cell === deceased) {
      if (deceased.checked && !kind.value) kind.value = IN_MEMORY;
      else if (!deceased.checked && kind.value === IN_MEMORY) kind.value = "";
    } else if (cell === kind) {
      if (kind.value === IN_MEMORY) deceased.checked = true;
      else if (!kind.value) deceased.checked = false;
    }
    dedicationHint(row);
  }

  function rowAdd(data) {
    const row = template.content.firstElementChild.cloneNode(true);
    const number = body.rows.length + 1;
    row.querySelector(".grid-row-number").textContent = String(number);
    // Cells of columns this campaign does not show are kept as they were, not dropped.
    row.hiddenValues = {};
    Object.keys(data).forEach((field) => {
      if (!shownFields.includes(field)) row.hiddenValues[field] = data[field];
    });
    row.querySelectorAll("[data-field]").forEach((cell) => {
      cell.setAttribute("aria-label", format(text.textCellLabel, { row: number, column: cell.dataset.column }));
      cellSet(cell, data[cell.dataset.field]);
      hint(cell);
    });
    dedicationHint(row);
    body.appendChild(row);
    return row;
  }

  function rowData(row) {
    const data = Object.assign({}, row.hiddenValues);
    row.querySelectorAll("[data-field]").forEach((cell) => {
      const value = cellValue(cell);
      if (value) data[cell.dataset.field] = value;
    });
    return data;
  }

  function rowIsEmpty(row) {
    // Gender always has a value and a tick alone is not a name: as grid_services counts it.
    return !Array.from(row.querySelectorAll('input[type="text"]')).some((cell) => cell.value.trim());
  }

  function firstCell(row) {
    return row.querySelector("[data-field]");
  }

  // --- Saving --------------------------------------------------------------------------------

  let dirty = false;
  let inFlight = null;
  let debounceTimer = null;
  let retryTimer = null;
  let failures = 0;

  function statusShow(message, tone) {
    status.textContent = message;
    status.className = "small text-" + tone;
  }

  function changed() {
    dirty = true;
    if (!autosave) return;
    statusShow(text.textSaving, "body-secondary");
    clearTimeout(debounceTimer);
    debounceTimer = setTimeout(save, SAVE_AFTER_MS);
  }

  async function send() {
    const payload = JSON.stringify({ rows: Array.from(body.rows, rowData) });
    let response = null;
    try {
      response = await fetch(text.draftUrl, {
        method: "PUT",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: payload,
        credentials: "same-origin",
      });
    } catch (error) {
      response = null; // offline or the server is away: retried below
    }
    if (response && response.ok) {
      failures = 0;
      if (!dirty) statusShow(text.textSaved, "success");
      return true;
    }
    let message = "";
    if (response) {
      try {
        message = (await response.json()).error || "";
      } catch (error) {
        message = "";
      }
    }
    dirty = true; // what was sent is not kept
    if (response && response.status === 400) {
      // The same rows would be refused again: the next change tries again.
      statusShow(text.textNotSaved + (message ? ": " + message : ""), "danger");
      return false;
    }
    failures += 1;
    statusShow(text.textRetrying + (message ? " (" + message + ")" : ""), "danger");
    clearTimeout(retryTimer);
    retryTimer = setTimeout(save, Math.min(30000, 1000 * 2 ** failures));
    return false;
  }

  async function saveLoop() {
    // Changes made while a request is under way are sent by the next turn of this loop, so
    // only one request is ever in flight and the last one carries the latest rows.
    while (dirty) {
      dirty = false;
      if (!(await send())) return false;
    }
    return true;
  }

  function save() {
    if (!autosave) return Promise.resolve(true); // a card's rows go with its form
    clearTimeout(debounceTimer);
    debounceTimer = null;
    clearTimeout(retryTimer);
    retryTimer = null;
    if (!inFlight) {
      inFlight = saveLoop().finally(() => {
        inFlight = null;
      });
    }
    return inFlight;
  }

  // --- Keyboard ------------------------------------------------------------------------------

  function onEnter(row) {
    save();
    const next = row.nextElementSibling;
    if (next) {
      firstCell(next).focus();
      return;
    }
    if (rowIsEmpty(row)) {
      firstCell(row).focus(); // no piles of blank rows
      return;
    }
    if (body.rows.length >= maxRows) {
      statusShow(text.textFull, "danger");
      return;
    }
    firstCell(rowAdd({})).focus();
    changed();
  }

  function moveVertically(cell, step) {
    const row = cell.closest("tr");
    const target = step > 0 ? row.nextElementSibling : row.previousElementSibling;
    if (target) target.querySelector('[data-field="' + cell.dataset.field + '"]').focus();
  }

  body.addEventListener("keydown", (event) => {
    const cell = event.target;
    if (!cell.dataset || !cell.dataset.field || event.isComposing) return;
    const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
    if (event.key === "Enter" && plain && !event.shiftKey) {
      event.preventDefault();
      onEnter(cell.closest("tr"));
      return;
    }
    if (cell.classList.contains("grid-gender")) {
      // The physical M and F keys, whatever the keyboard layout (Hebrew gives צ and כ there).
      const choice = { KeyM: "m", KeyF: "f" }[event.code] || { m: "m", f: "f" }[event.key.toLowerCase()];
      if (plain && choice) {
        event.preventDefault();
        if (cell.value !== choice) {
          cell.value = choice;
          changed();
        }
      } else if (plain && event.key === " ") {
        event.preventDefault();
        cell.value = cell.value === "f" ? "m" : "f";
        changed();
      }
      return;
    }
    if (cell.type === "text" && plain && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      moveVertically(cell, event.key === "ArrowDown" ? 1 : -1);
    }
  });

  body.addEventListener("input", (event) => {
    if (!event.target.dataset.field) return;
    hint(event.target);
    changed();
  });
  body.addEventListener("change", (event) => {
    if (event.target.type === "checkbox" || event.target.tagName === "SELECT") {
      dedicationFollow(event.target);
      changed();
    }
  });
  body.addEventListener("focusout", (event) => {
    const cell = event.target;
    if (cell.classList && cell.classList.contains("grid-date")) {
      const digits = cell.value.trim();
      if (/^\d{8}$/.test(digits)) {
        // 20150304 is typed faster than 2015-03-04.
        cell.value = digits.slice(0, 4) + "-" + digits.slice(4, 6) + "-" + digits.slice(6);
        hint(cell);
        dirty = true;
      }
    }
    if (dirty) save();
  });

  // --- Submitting ----------------------------------------------------------------------------

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submitButton.disabled = true;
    if (!autosave) {
      rowsField.value = JSON.stringify(Array.from(body.rows, rowData));
      dirty = false;
      form.submit();
      return;
    }
    // The server imports what it has kept: everything on the screen must be there first.
    const saved = await save();
    if (saved && !dirty) {
      form.submit();
    } else {
      submitButton.disabled = false;
    }
  });

  // Back on the network: save now rather than at the end of the retry's wait.
  window.addEventListener("online", () => {
    if (dirty && autosave) save();
  });

  window.addEventListener("beforeunload", (event) => {
    if (dirty || inFlight) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // --- Start ---------------------------------------------------------------------------------

  const saved = JSON.parse(document.getElementById("grid-draft-rows").textContent);
  saved.slice(0, maxRows).forEach(rowAdd);
  if (!body.rows.length) rowAdd({});
  else if (autosave) statusShow(text.textSaved, "success");
  firstCell(body.rows[body.rows.length - 1]).focus();
})();
