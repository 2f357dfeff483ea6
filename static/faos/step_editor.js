/* FAOS step editor: a form per step built from its kind's config schema (and its action's input schema), with the
   kind, action and agent pickers, step-key suggestions and reordering. The form itself comes from schema_form.js; the
   JSON textarea stays the source of truth: every change is written back to it, so saving works with JS off. */
(function () {
  "use strict";

  var SF = window.FaosSchemaForm;
  var el = SF.el, selectControl = SF.selectControl, field = SF.field, objectFields = SF.objectFields;
  var labelled = SF.labelled, setter = SF.setter, write = SF.write, markErrors = SF.markErrors;
  var DATA = null;
  var NUMBER = SF.NUMBER;
  var KEY_LIST = "faos-step-keys";

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
    var schema = { type: "object", title: "Input", description: "The action's inputs as JSON, e.g. {\"name\": \"value\"}." };
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
    var pick = selectControl(actionOptions(null), state.config.action, function (v) { pickAction(state, "input", v); },
      state.prefix + "-cfg-action", "Choose an action…");
    return [labelled(props.action, pick, "action")].concat(state.config.action ? inputsFields(state, "input", state.config.action) : []);
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

  function genericForm(state, kind) {
    return objectFields(state, kind.schema, [], state.config, function () { write(state); });
  }

  /* ---- one step: its form and its editor ---- */

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

  function setupRow(row) {
    var textarea = row.querySelector("textarea.faos-config-json");
    var kindSelect = row.querySelector('select[name$="-kind"]');
    if (!textarea || !kindSelect || row.querySelector(".faos-editor-live")) return;
    var old = row.querySelector(".faos-editor");
    if (old) old.remove();  // copied from the empty form by "Add another"
    var state = SF.mount({ row: row, textarea: textarea, kindSelect: kindSelect, prefix: textarea.name.replace(/-config$/, ""),
      config: {}, stash: {}, kind: kindSelect.value, json: false, draw: draw });
    kindSelect.addEventListener("change", function () { SF.switchKind(state, DATA.kinds); });
    SF.setMode(state, false);
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
    SF.lists["step-key"] = KEY_LIST;
    document.body.appendChild(el("datalist", { id: KEY_LIST }));
    refreshKeys();
    document.addEventListener("focusin", function (e) { if (e.target.getAttribute && e.target.getAttribute("list") === KEY_LIST) refreshKeys(); });
    sortRows();  // a page shown again after an error lists the forms in formset order
    rows().forEach(setupRow);
    rows().forEach(addMoveButtons);  // a folded step moves too: its position is posted without its form
    linkKeyInputs(document);
    document.addEventListener("formset:added", onAdded);
    document.addEventListener("faos:step-loaded", function (event) {  // a folded step's form arrived
      linkKeyInputs(event.target);
      setupRow(event.target);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
