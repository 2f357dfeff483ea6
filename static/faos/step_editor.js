/* FAOS step editor: a form per step built from its kind's config schema (and its action's input schema).
   The JSON textarea stays the source of truth: every change is written back to it, so saving works with JS off. */
(function () {
  "use strict";

  var DATA = null;
  var MULTILINE = ["body", "html", "template", "details", "description", "message", "text", "instruction", "question"];
  var NUMBER = /^-?\d+(\.\d+)?$/;
  var ACRONYMS = ["url", "json", "html", "id", "api", "cc", "bcc", "ts"];
  var KEY_LIST = "faos-step-keys";

  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "text") node.textContent = props[k];
      else if (k === "className") node.className = props[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), props[k]);
      else if (props[k] !== undefined && props[k] !== null && props[k] !== false) node.setAttribute(k, props[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function types(schema) {
    if (schema.type) return [].concat(schema.type);
    if (schema.enum) return ["enum"];
    if (schema.anyOf) return schema.anyOf.reduce(function (all, s) { return all.concat(types(s)); }, []);
    return [];
  }

  function pretty(value) {
    /* JSON for people: a list of objects one per line, anything else indented */
    if (value === undefined) return "";
    if (Array.isArray(value) && value.length && value.every(function (v) { return v && typeof v === "object"; })) {
      return "[\n  " + value.map(function (v) { return JSON.stringify(v); }).join(",\n  ") + "\n]";
    }
    return JSON.stringify(value, null, 2);
  }

  function fill(area, text) {
    /* the initial text as the textarea's content (painted at once), sized to it, up to 10 rows */
    area.textContent = text;
    area.rows = Math.min(10, Math.max(area.rows, text.split("\n").length));
    return area;
  }

  function humane(name) {
    var words = String(name).split("_").map(function (w) { return ACRONYMS.indexOf(w) >= 0 ? w.toUpperCase() : w; });
    var text = words.join(" ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function isEmpty(value) {
    return value === undefined || value === "" || (Array.isArray(value) && !value.length) ||
      (value && typeof value === "object" && !Array.isArray(value) && !Object.keys(value).length);
  }

  /* ---- the controls, one per kind of schema ---- */

  function textControl(schema, name, value, set, id) {
    var long = MULTILINE.indexOf(name) >= 0 || (typeof value === "string" && value.indexOf("\n") >= 0);
    var listy = types(schema).indexOf("array") >= 0;
    var shown = Array.isArray(value) ? value.join(", ") : value === undefined ? "" : String(value);
    var input = el(long ? "textarea" : "input", {
      id: id, type: long ? null : "text", rows: long ? 3 : null, value: long ? null : shown, spellcheck: "false",
      className: schema.format === "expression" ? "faos-code" : null,
      placeholder: schema.examples ? schema.examples.join(", ") : schema.default !== undefined ? String(schema.default) : null,
      list: schema.format === "step-key" ? KEY_LIST : null,
      oninput: function () { set(parseText(input.value, schema, listy)); },
    });
    if (long) fill(input, shown);
    return input;
  }

  function parseText(text, schema, listy) {
    var t = types(schema), trimmed = text.trim();
    if (trimmed === "") return undefined;
    if ((t.indexOf("number") >= 0 || t.indexOf("integer") >= 0) && NUMBER.test(trimmed)) return Number(trimmed);
    if (listy && t.indexOf("string") >= 0 && text.indexOf(",") >= 0 && text.indexOf("{{") < 0) {
      return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    }
    return text;
  }

  function selectControl(options, value, set, id, blank) {
    var select = el("select", { id: id, onchange: function () { set(select.value === "" ? undefined : select.value); } });
    if (blank !== false) select.appendChild(el("option", { value: "", text: blank || "—" }));
    var known = options.some(function (o) { return o.value === value; });
    if (value !== undefined && value !== "" && !known) options = options.concat([{ value: value, label: value + " (unknown)" }]);
    options.forEach(function (o) {
      var parent = select;
      if (o.group) {
        parent = select.querySelector('optgroup[label="' + o.group + '"]') || select.appendChild(el("optgroup", { label: o.group }));
      }
      parent.appendChild(el("option", { value: o.value, text: o.label, selected: o.value === value ? "selected" : null }));
    });
    return select;
  }

  function checkControl(schema, value, set, id) {
    var fallback = schema.default === true;
    var box = el("input", {
      id: id, type: "checkbox", checked: (value === undefined ? fallback : value) ? "checked" : null,
      onchange: function () { set(box.checked === fallback ? undefined : box.checked); },
    });
    return box;
  }

  function listControl(schema, value, set, id) {
    var items = (Array.isArray(value) ? value : value ? [value] : []).slice();
    var nested = schema.items && schema.items.anyOf;  // parallel branches: each item is a list of step keys
    var keys = (schema.items && schema.items.format === "step-key") || nested;
    var wrap = el("div", { className: "faos-list", id: id });
    function emit() {
      set(items.filter(function (v) { return !isEmpty(v); }));
    }
    function row(index) {
      var shown = Array.isArray(items[index]) ? items[index].join(", ") : items[index] || "";
      var input = el("input", {
        type: "text", value: shown, list: keys ? KEY_LIST : null, "aria-label": (schema.title || "Item") + " " + (index + 1),
        placeholder: nested ? "step_a, step_b" : null,
        oninput: function () {
          items[index] = nested ? input.value.split(",").map(function (s) { return s.trim(); }).filter(Boolean) : input.value;
          emit();
        },
      });
      var remove = el("button", {
        type: "button", className: "faos-mini", title: "Remove", text: "×",
        onclick: function () { items.splice(index, 1); emit(); redraw(); },
      });
      return el("div", { className: "faos-list-row" }, [input, remove]);
    }
    function redraw() {
      wrap.replaceChildren();
      items.forEach(function (_, i) { wrap.appendChild(row(i)); });
      wrap.appendChild(el("button", {
        type: "button", className: "faos-mini faos-add", text: "+ Add",
        onclick: function () { items.push(""); redraw(); wrap.querySelectorAll("input")[items.length - 1].focus(); },
      }));
    }
    redraw();
    return wrap;
  }

  function jsonControl(value, set, id) {
    var area = fill(el("textarea", { id: id, spellcheck: "false", className: "faos-code" }), pretty(value));
    area.addEventListener("input", function () {
      if (area.value.trim() === "") { area.classList.remove("faos-bad-json"); return set(undefined); }
      try { set(JSON.parse(area.value)); area.classList.remove("faos-bad-json"); }
      catch (e) { area.classList.add("faos-bad-json"); }
    });
    return area;
  }

  function anyControl(value, set, id) {
    var area = fill(el("textarea", { id: id, spellcheck: "false" }),
      typeof value === "string" ? value : pretty(value));
    area.addEventListener("input", function () {
      var text = area.value.trim();
      if (/^[\[{]/.test(text) && text.indexOf("{{") !== 0) {
        try { return set(JSON.parse(text)); } catch (e) { /* text after all */ }
      }
      set(text === "" ? undefined : area.value);
    });
    return area;
  }

  function control(schema, name, value, set, id) {
    var t = types(schema);
    if (schema.enum && !schema.type) {
      var blank = schema.default !== undefined ? "Default (" + schema.default + ")" : "—";
      return selectControl(schema.enum.map(function (v) { return { value: v, label: String(v) }; }), value, set, id, blank);
    }
    if (t.length === 1 && t[0] === "boolean") return checkControl(schema, value, set, id);
    if (t[0] === "array" && t.length === 1 && schema.items && (types(schema.items).indexOf("string") >= 0 || schema.items.anyOf)) {
      return listControl(schema, value, set, id);
    }
    var plain = t.indexOf("string") >= 0 || t.indexOf("number") >= 0 || t.indexOf("integer") >= 0 || t.indexOf("enum") >= 0;
    if (!t.length) return anyControl(value, set, id);
    if (!plain) return jsonControl(value, set, id);
    if (t.indexOf("enum") >= 0) return withChoices(textControl(schema, name, value, set, id), schema, id);
    return textControl(schema, name, value, set, id);
  }

  function withChoices(input, schema, id) {
    var values = schema.anyOf.filter(function (s) { return s.enum; })[0].enum;
    var list = el("datalist", { id: id + "-choices" }, values.map(function (v) { return el("option", { value: v }); }));
    input.setAttribute("list", list.id);
    return el("span", {}, [input, list]);
  }

  /* ---- fields: label, control, help ---- */

  function field(state, schema, path, value, required, set) {
    var name = path[path.length - 1], id = state.prefix + "-cfg-" + path.join("-");
    var label = el("label", { for: id, className: required ? "required" : null, text: schema.title || humane(name) });
    var help = schema.description || "";
    if (schema.format === "expression") help += (help ? " " : "") + "An expression: names as they are; {{ }} inserts a value as text.";
    if (schema.format === "duration") help += (help ? " " : "") + "A duration: 30s, 15m, 4h, 2d or seconds.";
    var t = types(schema);
    if (t.indexOf("array") >= 0 && t.indexOf("string") >= 0) help += (help ? " " : "") + "One, or several separated by commas.";
    return el("div", { className: "faos-field", "data-path": path.join(".") }, [
      label, control(schema, name, value, set, id), help ? el("div", { className: "help", text: help }) : null,
    ]);
  }

  function objectFields(state, schema, path, value, set, only) {
    var current = value && typeof value === "object" && !Array.isArray(value) ? value : {};
    var required = schema.required || [];
    var props = schema.properties || {};
    return Object.keys(props).filter(only || function () { return true; }).map(function (key) {
      return field(state, props[key], path.concat([key]), current[key], required.indexOf(key) >= 0, function (v) {
        if (isEmpty(v)) delete current[key]; else current[key] = v;
        set(current);
      });
    });
  }

  function setter(state, key) {
    return function (value) {
      if (isEmpty(value)) delete state.config[key]; else state.config[key] = value;
      write(state);
    };
  }

  /* ---- per kind ---- */

  function actionByName(name) {
    var found = null;
    DATA.actions.forEach(function (g) { g.actions.forEach(function (a) { if (a.name === name) found = a; }); });
    return found;
  }

  function actionOptions(names) {
    var options = [];
    DATA.actions.forEach(function (g) {
      g.actions.forEach(function (a) {
        if (!names || names.indexOf(a.name) >= 0) options.push({ value: a.name, label: a.label + "  ·  " + a.name, group: g.category });
      });
    });
    return options;
  }

  function inputsFields(state, key, actionName) {
    var action = actionByName(actionName);
    var set = setter(state, key);
    if (action && action.schema.properties) {
      var box = el("div", { className: "faos-inputs" }, [el("div", { className: "faos-inputs-title", text: action.label })]);
      objectFields(state, action.schema, [key], state.config[key], set).forEach(function (f) { box.appendChild(f); });
      return [box];
    }
    var schema = { type: "object", title: "Inputs", description: "The action's inputs as JSON, e.g. {\"name\": \"value\"}." };
    return [field(state, schema, [key], state.config[key], false, set)];
  }

  function pickAction(state, key, value) {
    var before = actionByName(state.config.action), after = actionByName(value);
    state.config.action = value;
    if (value === undefined) delete state.config.action;
    var inputs = state.config[key];
    if (inputs && before && after && after.schema.properties) {  // keep the inputs the new action also takes
      Object.keys(inputs).forEach(function (k) { if (!(k in after.schema.properties)) delete inputs[k]; });
    }
    write(state);
    draw(state);
  }

  function actionForm(state, kind) {
    var props = kind.schema.properties;
    var pick = selectControl(actionOptions(null), state.config.action, function (v) { pickAction(state, "inputs", v); },
      state.prefix + "-cfg-action", "Choose an action…");
    return [labelled(props.action, pick, "action")].concat(state.config.action ? inputsFields(state, "inputs", state.config.action) : []);
  }

  function agentForm(state, kind) {
    var agents = DATA.agents, config = state.config, props = kind.schema.properties;
    var agent = agents.filter(function (a) { return a.name === config.agent; })[0];
    var agentPick = selectControl(agents.map(function (a) { return { value: a.name, label: a.name }; }), config.agent,
      function (v) { setter(state, "agent")(v); draw(state); }, state.prefix + "-cfg-agent", "Choose an agent…");
    var allowed = agent && agent.allowed.length ? agent.allowed : null;
    var own = DATA.agentActions.filter(function (a) { return !allowed || allowed.indexOf(a) >= 0; })
      .map(function (a) { return { value: a, label: a.replace("_", " "), group: "Agent actions" }; });
    var tools = actionOptions(allowed).map(function (o) { return Object.assign(o, { group: "Tools: " + o.group }); });
    var actionPick = selectControl(own.concat(tools), config.action, function (v) { pickAction(state, "input", v); },
      state.prefix + "-cfg-action", "Choose what it does…");
    var fields = [labelled(props.agent, agentPick, "agent"), labelled(props.action, actionPick, "action")];
    if (!config.action) return fields;
    var isTool = DATA.agentActions.indexOf(config.action) < 0;
    fields = fields.concat(isTool ? inputsFields(state, "input", config.action) :
      [field(state, props.input, ["input"], config.input, false, setter(state, "input"))]);
    return fields.concat(objectFields(state, kind.schema, [], config, function () { write(state); }, function (key) {
      var only = props[key]["x-actions"];
      return ["agent", "action", "input"].indexOf(key) < 0 && (!only || only.indexOf(config.action) >= 0);
    }));
  }

  function labelled(schema, input, path) {
    return el("div", { className: "faos-field", "data-path": path }, [
      el("label", { for: input.id, className: "required", text: schema.title }), input,
      el("div", { className: "help", text: schema.description }),
    ]);
  }

  function genericForm(state, kind) {
    return objectFields(state, kind.schema, [], state.config, function () { write(state); });
  }

  /* ---- one step: state, drawing, JSON toggle ---- */

  function write(state) {
    state.textarea.value = Object.keys(state.config).length ? JSON.stringify(state.config, null, 2) : "{}";
  }

  function draw(state) {
    var kind = DATA.kinds[state.kindSelect.value];
    var body = state.form;
    body.replaceChildren();
    if (!kind) return body.appendChild(el("p", { className: "help", text: "Unknown kind: edit the JSON." }));
    var build = { action: actionForm, agent: agentForm }[state.kindSelect.value] || genericForm;
    build(state, kind).forEach(function (f) { body.appendChild(f); });
    var hint = "Text fields may use {{trigger.field}}, {{step_key.result}} or {{vars.name}}.";
    if (kind.branches.length) hint += " This step chooses a branch (" + kind.branches.join(", ") + "): map each to a step under Branches.";
    body.appendChild(el("p", { className: "faos-hint", text: hint }));
    markErrors(state);
  }

  function readConfig(state) {
    var text = state.textarea.value.trim();
    try {
      var parsed = text ? JSON.parse(text) : {};
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) { state.config = parsed; return true; }
    } catch (e) { /* fall through */ }
    return false;
  }

  function setMode(state, json) {
    if (!json && !readConfig(state)) {
      state.status.textContent = "Not valid JSON: fix it to go back to the form.";
      json = true;
    } else {
      state.status.textContent = "";
    }
    state.json = json;
    state.textarea.classList.toggle("faos-hidden", !json);
    state.form.classList.toggle("faos-hidden", json);
    state.toggle.setAttribute("aria-pressed", json ? "true" : "false");
    state.toggle.textContent = json ? "Back to the form" : "Advanced: edit JSON";
    if (!json) draw(state);
  }

  function onKindChange(state) {
    if (state.json && !readConfig(state)) return;  // raw JSON being edited and not valid yet: leave it alone
    var kind = DATA.kinds[state.kindSelect.value];
    state.stash[state.kind] = state.config;
    var previous = state.stash[state.kindSelect.value] || {}, config = {};
    var props = kind && kind.schema.properties ? kind.schema.properties : null;
    Object.keys(state.config).forEach(function (k) { if (!props || k in props) config[k] = state.config[k]; });
    state.config = Object.assign(config, previous);
    state.kind = state.kindSelect.value;
    write(state);
    if (!state.json) draw(state);
  }

  function markErrors(state) {
    var row = state.textarea.closest(".form-row");
    var items = row ? row.querySelectorAll(".errorlist li") : [];
    Array.prototype.forEach.call(items, function (li) {
      var match = /^config\.([\w.\[\]]+):/.exec(li.textContent);
      var path = match ? match[1].replace(/\[\d+\]/g, "").split(".") : [];
      while (path.length) {
        var target = state.form.querySelector('[data-path="' + path.join(".") + '"]');
        if (target) { target.classList.add("faos-invalid"); return; }
        path.pop();
      }
    });
  }

  function setupRow(row) {
    var textarea = row.querySelector("textarea.faos-config-json");
    var kindSelect = row.querySelector('select[name$="-kind"]');
    if (!textarea || !kindSelect || row.querySelector(".faos-editor-live")) return;
    var old = row.querySelector(".faos-editor");
    if (old) old.remove();  // copied from the empty form by "Add another"
    var state = { row: row, textarea: textarea, kindSelect: kindSelect, prefix: textarea.name.replace(/-config$/, ""),
      config: {}, stash: {}, kind: kindSelect.value, json: false };
    state.form = el("div", { className: "faos-form" });
    state.status = el("span", { className: "faos-status", role: "status" });
    state.toggle = el("button", { type: "button", className: "faos-mini faos-json-toggle", "aria-pressed": "false",
      onclick: function () { setMode(state, !state.json); } });
    var bar = el("div", { className: "faos-editor-bar" }, [el("strong", { text: "Settings" }), state.status, state.toggle]);
    textarea.parentNode.insertBefore(el("div", { className: "faos-editor faos-editor-live" }, [bar, state.form]), textarea);
    kindSelect.addEventListener("change", function () { onKindChange(state); });
    setMode(state, false);
    addMoveButtons(row);
  }

  /* ---- reordering: swap the position values of neighbouring steps ---- */

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#steps-group .inline-related:not(.empty-form)"));
  }

  function positionOf(row) {
    return row.querySelector('input[name$="-position"]');
  }

  function move(row, step) {
    var all = rows(), index = all.indexOf(row), other = all[index + step];
    if (!other) return;
    var values = all.map(function (r) { return positionOf(r).value; });
    if (new Set(values).size !== values.length || values.some(function (v) { return !NUMBER.test(v); })) {
      all.forEach(function (r, i) { positionOf(r).value = i; });  // repair duplicates first
    }
    var mine = positionOf(row).value;
    positionOf(row).value = positionOf(other).value;
    positionOf(other).value = mine;
    row.parentNode.insertBefore(step < 0 ? row : other, step < 0 ? other : row);
    row.classList.add("faos-moved");
    setTimeout(function () { row.classList.remove("faos-moved"); }, 600);
  }

  function sortRows() {
    var all = rows();
    if (!all.length) return;
    var anchor = all[all.length - 1].nextSibling, parent = all[0].parentNode;
    all.map(function (r, i) { return { row: r, at: Number(positionOf(r).value) || 0, i: i }; })
      .sort(function (a, b) { return a.at - b.at || a.i - b.i; })
      .forEach(function (item) { parent.insertBefore(item.row, anchor); });
  }

  function addMoveButtons(row) {
    var heading = row.querySelector("h3");
    if (!heading || heading.querySelector(".faos-move")) return;
    heading.appendChild(el("span", { className: "faos-move" }, [
      el("button", { type: "button", className: "faos-mini faos-move-up", title: "Move up", "aria-label": "Move step up", text: "▲",
        onclick: function () { move(row, -1); } }),
      el("button", { type: "button", className: "faos-mini faos-move-down", title: "Move down", "aria-label": "Move step down", text: "▼",
        onclick: function () { move(row, 1); } }),
    ]));
  }

  /* ---- step keys for "go to" fields, and rows added with "Add another" ---- */

  function refreshKeys() {
    var list = document.getElementById(KEY_LIST);
    var keys = DATA.stepKeys.slice();
    document.querySelectorAll('#steps-group input[name$="-key"]').forEach(function (input) {
      if (input.value && keys.indexOf(input.value) < 0 && input.name.indexOf("__prefix__") < 0) keys.push(input.value);
    });
    list.replaceChildren.apply(list, keys.map(function (k) { return el("option", { value: k }); }));
  }

  function linkKeyInputs(scope) {
    scope.querySelectorAll('input[name$="-next_step"], input[name$="-on_error_goto"]').forEach(function (input) {
      input.setAttribute("list", KEY_LIST);
    });
  }

  function onAdded(event) {
    var row = event.target;
    if (!row || !row.closest || !row.closest("#steps-group")) return;
    var data = row.querySelector("#faos-step-editor-data");
    if (data) data.remove();
    var highest = rows().filter(function (r) { return r !== row; }).reduce(function (max, r) {
      return Math.max(max, Number(positionOf(r).value) || 0);
    }, -1);
    positionOf(row).value = highest + 1;
    linkKeyInputs(row);
    setupRow(row);
  }

  function init() {
    var node = document.getElementById("faos-step-editor-data");
    if (!node) return;
    DATA = JSON.parse(node.textContent);
    document.body.appendChild(el("datalist", { id: KEY_LIST }));
    refreshKeys();
    document.addEventListener("focusin", function (e) { if (e.target.getAttribute && e.target.getAttribute("list") === KEY_LIST) refreshKeys(); });
    sortRows();  // a page shown again after an error lists the forms in formset order
    rows().forEach(setupRow);
    linkKeyInputs(document);
    document.addEventListener("formset:added", onAdded);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
