// Hebrew for those who cannot type it: beside every field marked data-hebrew-input, a button
// opens an on-screen Hebrew keyboard (real buttons, each named for screen readers), and a name
// typed in English or Russian letters gets Hebrew spellings to choose from (GET
// /names/transliterate/). Nothing is filled in by itself: the buyer picks a suggestion and checks
// it. Inside an element marked data-hebrew-keyboard-scope (the shliach's grid) one keyboard, in
// the scope's .hebrew-input-slot, serves the Hebrew field last focused there. The strings and the
// keyboard come from templates/allocation/_hebrew_input.html. Without JavaScript the fields work
// as before.
(function () {
  "use strict";
  const template = document.getElementById("hebrew-input-template");
  if (!template) return;
  const text = template.dataset;
  const FOREIGN = /[A-Za-z\u0400-\u04FF]/;
  const LOOKUP_AFTER_MS = 400;
  const attached = new WeakSet();
  const carets = new WeakMap(); // field -> [start, end] as last seen, kept while the keys are used
  let counter = 0;

  function format(message, values) {
    return message.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  // --- Inserting at the caret -----------------------------------------------------------------

  function caretRemember(field) {
    if (typeof field.selectionStart === "number") carets.set(field, [field.selectionStart, field.selectionEnd]);
  }

  function caretOf(field) {
    const length = field.value.length;
    const [start, end] = carets.get(field) || [length, length];
    return [Math.min(start, length), Math.min(end, length)];
  }

  function fieldSet(field, value, caret) {
    field.value = value;
    carets.set(field, [caret, caret]);
    if (document.activeElement === field) field.setSelectionRange(caret, caret);
    // As if typed: the grid saves, the suggestions follow.
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function insert(field, characters) {
    const [start, end] = caretOf(field);
    const value = field.value.slice(0, start) + characters + field.value.slice(end);
    if (field.maxLength > 0 && value.length > field.maxLength) return;
    fieldSet(field, value, start + characters.length);
  }

  function erase(field) {
    let [start, end] = caretOf(field);
    if (start === end) {
      if (start === 0) return;
      start -= 1;
    }
    fieldSet(field, field.value.slice(0, start) + field.value.slice(end), start);
  }

  // --- Suggestions -----------------------------------------------------------------------------

  function suggestionsShow(widget, field, found) {
    const region = widget.region;
    region.replaceChildren();
    if (found.unknown && found.unknown.length) {
      const note = document.createElement("p");
      note.className = "small mb-1";
      note.textContent = format(text.textUnknown, { words: found.unknown.join(", ") });
      region.appendChild(note);
      return;
    }
    if (!found.suggestions || !found.suggestions.length) return;
    const intro = document.createElement("p");
    intro.className = "small mb-1";
    intro.textContent = text.textIntro;
    region.appendChild(intro);
    const [before, after] = text.textUse.split("{name}");
    found.suggestions.forEach((suggestion) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-outline-primary me-1 mb-1 hebrew-suggestion";
      const name = document.createElement("bdi");
      name.lang = "he";
      name.dir = "rtl";
      name.textContent = suggestion;
      button.append(before || "", name, after || "");
      button.addEventListener("click", () => {
        fieldSet(field, suggestion, suggestion.length);
        region.replaceChildren();
        const done = document.createElement("p");
        done.className = "small mb-1";
        done.textContent = format(text.textChosen, { name: suggestion });
        region.appendChild(done);
        field.focus();
      });
      region.appendChild(button);
    });
  }

  async function lookup(widget, field) {
    const value = field.value.trim();
    const asked = ++widget.asked;
    if (!FOREIGN.test(value)) {
      widget.region.replaceChildren();
      return;
    }
    let found = null;
    try {
      const response = await fetch(text.url + "?q=" + encodeURIComponent(value), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (response.ok) found = await response.json();
    } catch (error) {
      found = null; // offline, or over the limit: the keyboard still works
    }
    if (asked !== widget.asked) return; // a later keystroke asked again
    if (found) suggestionsShow(widget, field, found);
    else widget.region.replaceChildren();
  }

  // --- The keyboard ------------------------------------------------------------------------------

  function widgetBuild(idBase, targetOf) {
    const root = template.content.firstElementChild.cloneNode(true);
    const toggle = root.querySelector(".hebrew-input-toggle");
    const panel = root.querySelector(".hebrew-keyboard");
    const region = root.querySelector(".hebrew-suggestions");
    panel.id = idBase + "-hebrew-keyboard";
    region.id = idBase + "-hebrew-suggestions";
    toggle.setAttribute("aria-controls", panel.id);
    const widget = { root, region, asked: 0, timer: null };

    function open(shown) {
      panel.hidden = !shown;
      toggle.setAttribute("aria-expanded", String(shown));
    }

    toggle.addEventListener("click", () => open(panel.hidden));
    panel.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      open(false);
      const field = targetOf();
      if (field) field.focus();
    });
    // A pointer's press keeps the focus (and the caret) in the field; the keyboard's Tab and
    // Enter reach the keys as any button.
    panel.addEventListener("mousedown", (event) => {
      if (event.target.closest("button") && document.activeElement === targetOf()) event.preventDefault();
    });
    panel.addEventListener("click", (event) => {
      const key = event.target.closest("button");
      const field = targetOf();
      if (!key || !field) return;
      if (key.dataset.action === "backspace") erase(field);
      else if (key.dataset.action === "close") {
        open(false);
        field.focus();
      } else if (key.dataset.key) insert(field, key.dataset.key);
    });
    return widget;
  }

  function fieldWatch(field, widget) {
    ["keyup", "click", "select", "focus"].forEach((name) => field.addEventListener(name, () => caretRemember(field)));
    field.addEventListener("input", () => {
      caretRemember(field);
      clearTimeout(widget.timer);
      widget.timer = setTimeout(() => lookup(widget, field), LOOKUP_AFTER_MS);
    });
  }

  function fieldAttach(field) {
    if (attached.has(field) || field.closest("[data-hebrew-keyboard-scope]")) return;
    attached.add(field);
    const widget = widgetBuild(field.id || "hebrew-input-" + ++counter, () => field);
    field.insertAdjacentElement("afterend", widget.root);
    fieldWatch(field, widget);
    // Sent back refused with Latin or Cyrillic letters in it: the suggestions at once.
    if (FOREIGN.test(field.value)) lookup(widget, field);
  }

  function scopeAttach(scope) {
    if (attached.has(scope)) return;
    attached.add(scope);
    let current = null;
    const targetOf = () => current || scope.querySelector("[data-hebrew-input]");
    const widget = widgetBuild(scope.id || "hebrew-input-" + ++counter, targetOf);
    (scope.querySelector(".hebrew-input-slot") || scope).prepend(widget.root);
    scope.addEventListener("focusin", (event) => {
      if (event.target.matches("[data-hebrew-input]")) {
        current = event.target;
        caretRemember(current);
      }
    });
    ["keyup", "click", "select"].forEach((name) =>
      scope.addEventListener(name, (event) => {
        if (event.target.matches("[data-hebrew-input]")) caretRemember(event.target);
      }),
    );
    scope.addEventListener("input", (event) => {
      if (!event.target.matches("[data-hebrew-input]")) return;
      current = event.target;
      caretRemember(current);
      clearTimeout(widget.timer);
      widget.timer = setTimeout(() => lookup(widget, current), LOOKUP_AFTER_MS);
    });
  }

  function attachAll(root) {
    root.querySelectorAll("[data-hebrew-keyboard-scope]").forEach(scopeAttach);
    root.querySelectorAll("input[data-hebrew-input]").forEach(fieldAttach);
  }

  attachAll(document);
  // Rows added later (the buy page's "Add another name") get theirs too.
  new MutationObserver((records) => {
    records.forEach((record) =>
      record.addedNodes.forEach((node) => {
        if (node.nodeType !== Node.ELEMENT_NODE) return;
        if (node.matches("input[data-hebrew-input]")) fieldAttach(node);
        else attachAll(node);
      }),
    );
  }).observe(document.body, { childList: true, subtree: true });
})();
