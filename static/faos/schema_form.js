/* FAOS schema forms: a form built from a JSON Schema into a container, every change written back as JSON to a
   textarea. The textarea stays the source of truth (saving works with JS off) and the "Advanced: edit JSON" fallback.
   Shared by step_editor.js and trigger_editor.js as window.FaosSchemaForm. */
(function () {
  "use strict";

  var MULTILINE = ["body", "html", "template", "details", "description", "message", "text", "instruction", "question"];
  var NUMBER = /^-?\d+(\.\d+)?$/;
  var ACRONYMS = ["url", "json", "html", "id", "api", "cc", "bcc", "ts"];
  var LISTS = {};  // format → id of a <datalist> suggesting values (the step editor registers "step-key")
  var HINTS = {
    expression: "An expression: names as they are; {{ }} inserts a value as text.",
    duration: "A duration: 30s, 15m, 4h, 2d or seconds.",
  };

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

  function formatOf(schema) {
    /* the format of a schema, of its items or of one of its alternatives (a list of lists of step keys) */
    if (!schema) return undefined;
    return schema.format || formatOf(schema.items) || (schema.anyOf || []).map(formatOf).filter(Boolean)[0];
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
      className: schema.format === "expression" || schema.format === "cron" ? "faos-code" : null,
      placeholder: schema.examples ? schema.examples.join(", ") : schema.default !== undefined ? String(schema.default) : null,
      list: LISTS[schema.format] || null,
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
    var suggest = LISTS[formatOf(schema.items)] || null;
    var wrap = el("div", { className: "faos-list", id: id });
    function emit() {
      set(items.filter(function (v) { return !isEmpty(v); }));
    }
    function row(index) {
      var shown = Array.isArray(items[index]) ? items[index].join(", ") : items[index] || "";
      var input = el("input", {
        type: "text", value: shown, list: suggest, "aria-label": (schema.title || "Item") + " " + (index + 1),
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

  function enumControl(schema, value, set, id) {
    var labels = schema["x-enum-labels"] || {};
    var blank = schema.default !== undefined ? "Default (" + (labels[schema.default] || schema.default) + ")" : "—";
    return selectControl(schema.enum.map(function (v) { return { value: v, label: labels[v] || String(v) }; }), value, set, id, blank);
  }

  function control(schema, name, value, set, id) {
    var t = types(schema);
    if (schema.enum && !schema.type) return enumControl(schema, value, set, id);
    if (t.length === 1 && t[0] === "boolean") return checkControl(schema, value, set, id);
    if (t[0] === "array" && t.length === 1 && schema.items && (types(schema.items).indexOf("string") >= 0 || schema.items.anyOf)) {
      return listControl(schema, value, set, id);
    }
    var plain = t.indexOf("string") >= 0 || t.indexOf("number") >= 0 || t.indexOf("integer") >= 0 || t.indexOf("enum") >= 0;
    if (!t.length) return anyControl(value, set, id);
    if (!plain) return jsonControl(value, set, id);
    if (t.indexOf("enum") >= 0 || schema["x-suggestions"]) return withChoices(textControl(schema, name, value, set, id), schema, id);
    return textControl(schema, name, value, set, id);
  }

  function withChoices(input, schema, id) {
    /* values offered as you type (an enum among the alternatives, or x-suggestions), any other text still taken */
    var values = schema["x-suggestions"] || schema.anyOf.filter(function (s) { return s.enum; })[0].enum;
    var list = el("datalist", { id: id + "-choices" }, values.map(function (v) { return el("option", { value: v }); }));
    input.setAttribute("list", list.id);
    return el("span", {}, [input, list]);
  }

  /* ---- fields: label, control, help ---- */

  function field(state, schema, path, value, required, set) {
    var name = path[path.length - 1], id = state.prefix + "-cfg-" + path.join("-");
    var label = el("label", { for: id, className: required ? "required" : null, text: schema.title || humane(name) });
    var help = schema.description || "";
    if (HINTS[schema.format]) help += (help ? " " : "") + HINTS[schema.format];
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

  function labelled(schema, input, path) {
    return el("div", { className: "faos-field", "data-path": path }, [
      el("label", { for: input.id, className: "required", text: schema.title }), input,
      el("div", { className: "help", text: schema.description }),
    ]);
  }

  function setter(state, key) {
    return function (value) {
      if (isEmpty(value)) delete state.config[key]; else state.config[key] = value;
      write(state);
    };
  }

  /* ---- one editor: state, the JSON textarea, the toggle, errors from the server ---- */

  function write(state) {
    state.textarea.value = Object.keys(state.config).length ? JSON.stringify(state.config, null, 2) : "{}";
    if (state.changed) state.changed(state);
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
    if (!json) state.draw(state);
  }

  function switchKind(state, kinds) {
    /* a new kind keeps the settings it also has, and gets back what it had before in this editor */
    if (state.json && !readConfig(state)) return;  // raw JSON being edited and not valid yet: leave it alone
    var kind = kinds[state.kindSelect.value];
    state.stash[state.kind] = state.config;
    var previous = state.stash[state.kindSelect.value] || {}, config = {};
    var props = kind && kind.schema.properties ? kind.schema.properties : null;
    Object.keys(state.config).forEach(function (k) { if (!props || k in props) config[k] = state.config[k]; });
    state.config = Object.assign(config, previous);
    state.kind = state.kindSelect.value;
    write(state);
    if (!state.json) state.draw(state);
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

  function mount(state, className) {
    /* the editor box (title bar, status, JSON toggle, form) above the textarea; the caller then calls setMode */
    state.form = el("div", { className: "faos-form" });
    state.status = el("span", { className: "faos-status", role: "status" });
    state.toggle = el("button", { type: "button", className: "faos-mini faos-json-toggle", "aria-pressed": "false",
      onclick: function () { setMode(state, !state.json); } });
    var bar = el("div", { className: "faos-editor-bar" }, [el("strong", { text: "Settings" }), state.status, state.toggle]);
    var box = el("div", { className: "faos-editor faos-editor-live" + (className ? " " + className : "") }, [bar, state.form]);
    state.textarea.parentNode.insertBefore(box, state.textarea);
    return state;
  }

  window.FaosSchemaForm = {
    el: el, isEmpty: isEmpty, NUMBER: NUMBER, lists: LISTS, hints: HINTS,
    selectControl: selectControl, field: field, objectFields: objectFields, labelled: labelled, setter: setter,
    write: write, readConfig: readConfig, setMode: setMode, switchKind: switchKind, markErrors: markErrors, mount: mount,
  };
})();
