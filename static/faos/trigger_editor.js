/* FAOS trigger editor: a trigger's config as a form built from its kind's schema (schema_form.js), drawn again when
   the kind changes. A schedule shows its next five runs, asked from the server as the cron and time zone are typed.
   The JSON textarea stays the source of truth, as for steps. */
(function () {
  "use strict";

  var SF = window.FaosSchemaForm, el = SF.el;
  var WAIT_MS = 250;

  function shown(state, schema, key) {
    /* a field with x-show-if appears only while the fields it names hold one of the listed values */
    var when = schema.properties[key]["x-show-if"] || {};
    return Object.keys(when).every(function (name) {
      var value = state.config[name] !== undefined ? state.config[name] : schema.properties[name].default;
      return when[name].indexOf(value) >= 0;
    });
  }

  function sideRows(state) {
    /* "New secret" only matters for a webhook that checks one; a schedule's live preview replaces its saved runs */
    var scope = state.textarea.closest(".inline-related") || document;
    var secret = scope.querySelector(".form-row.field-new_secret"), details = scope.querySelector(".form-row.field-how_to_call");
    var kind = state.kindSelect.value;
    if (secret) secret.classList.toggle("faos-hidden", kind !== "webhook" || state.config.auth === "none");
    if (details) details.classList.toggle("faos-hidden", kind === "schedule");
  }

  function draw(state) {
    var kind = state.data.kinds[state.kindSelect.value], body = state.form;
    body.replaceChildren();
    state.preview = null;
    state.shownAuth = state.config.auth;
    sideRows(state);
    if (!kind) return body.appendChild(el("p", { className: "help", text: "Unknown kind: edit the JSON." }));
    var schema = kind.schema;
    SF.objectFields(state, schema, [], state.config, function () { SF.write(state); }, function (key) {
      return shown(state, schema, key);
    }).forEach(function (f) { body.appendChild(f); });
    if (state.kindSelect.value === "schedule") body.appendChild(previewBox(state));
    if (schema.description) body.appendChild(el("p", { className: "faos-hint", text: schema.description }));
    SF.markErrors(state);
  }

  function changed(state) {
    if (state.json) return;
    if (state.config.auth !== state.shownAuth) draw(state);  // the header field is for token and HMAC only
    else if (state.preview) askSoon(state);
  }

  /* ---- the schedule's next runs ---- */

  function previewBox(state) {
    state.preview = el("div", { className: "faos-preview", "aria-live": "polite" }, [
      el("div", { className: "faos-preview-title", text: "Next 5 runs" }),
      el("ol", { className: "faos-runs" }),
      el("div", { className: "faos-preview-note" }),
    ]);
    askSoon(state);
    return state.preview;
  }

  function askSoon(state) {
    clearTimeout(state.timer);
    state.timer = setTimeout(function () { ask(state); }, WAIT_MS);
  }

  function ask(state) {
    var box = state.preview, asked = state.asked = (state.asked || 0) + 1;
    if (!box) return;
    if (state.config.cron === undefined && state.config.every_seconds === undefined) {
      return show(state, box, { runs: [], note: "Type a cron expression (or every how many seconds) to see the next runs." });
    }
    box.classList.add("faos-loading");
    fetch(state.data.previewUrl + "?config=" + encodeURIComponent(JSON.stringify(state.config)), {
      credentials: "same-origin", headers: { Accept: "application/json" },
    })
      .then(function (response) { return response.json(); })
      .then(function (answer) { if (asked === state.asked) show(state, box, answer); })
      .catch(function () {
        if (asked === state.asked) show(state, box, { errors: { config: "the preview could not be loaded" } });
      });
  }

  function show(state, box, answer) {
    var errors = answer.errors || {}, field = Object.keys(errors)[0];
    var runs = (answer.runs || []).map(function (run) {
      return el("li", {}, [el("time", { datetime: run.at, text: run.label })]);
    });
    var list = box.querySelector("ol");
    list.replaceChildren.apply(list, runs);
    box.classList.remove("faos-loading");
    box.classList.toggle("faos-preview-bad", !!field);
    var note = field ? field + ": " + errors[field] : answer.ended ? "No more runs after these: the schedule ends." : "";
    box.querySelector(".faos-preview-note").textContent = answer.note || note;
    flag(state, field);
  }

  function flag(state, field) {
    /* the field the preview's answer names is marked until it is right again */
    state.form.querySelectorAll(".faos-field.faos-invalid").forEach(function (f) { f.classList.remove("faos-invalid"); });
    var path = field ? field.replace(/^config\.?/, "") : "";
    var target = path && state.form.querySelector('[data-path="' + path + '"]');
    if (target) target.classList.add("faos-invalid");
  }

  /* ---- one editor per trigger, rows added with "Add another" too ---- */

  function setup(wrapper) {
    var textarea = wrapper.querySelector("textarea.faos-trigger-json");
    if (!textarea || textarea.name.indexOf("__prefix__") >= 0 || wrapper.querySelector(".faos-editor-live")) return;
    var old = wrapper.querySelector(".faos-editor");
    if (old) old.remove();
    var kindSelect = document.querySelector('select[name="' + textarea.name.replace(/config$/, "kind") + '"]');
    if (!kindSelect) return;
    var state = SF.mount({
      textarea: textarea, kindSelect: kindSelect, prefix: textarea.name.replace(/-?config$/, "") || "trigger",
      data: JSON.parse(wrapper.getAttribute("data-faos-trigger")), config: {}, stash: {}, kind: kindSelect.value,
      json: false, draw: draw, changed: changed,
    }, "faos-trigger-editor");
    kindSelect.addEventListener("change", function () { SF.switchKind(state, state.data.kinds); });
    SF.setMode(state, false);
  }

  function init() {
    document.querySelectorAll("[data-faos-trigger]").forEach(setup);
    document.addEventListener("formset:added", function (event) {
      var wrapper = event.target && event.target.querySelector && event.target.querySelector("[data-faos-trigger]");
      if (wrapper) setup(wrapper);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
