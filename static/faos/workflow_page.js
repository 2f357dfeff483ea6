/* FAOS workflow page: saved steps fold to one line (a step with errors, or a new one, stays open); a folded step's
   form is fetched from the server when it opens (the page carries title bars only, so it stays fast with many
   steps); a click on a step in the diagram, or on a problem's link (#step=<key>&field=<path>), opens that step and
   focuses the field; a dismissed confirmation says that nothing changed. With JS off, a folded step's summary links
   to the page with every step's form open (?steps=open). */
(function () {
  "use strict";

  var STEP_FIELDS = { next: "next_step", "retry.max_attempts": "retry_max_attempts" };
  var TRIGGER_FIELDS = { secrets: "new_secret" };

  /* ---- messages ---- */

  function say(text, level) {
    var list = document.querySelector("ul.messagelist");
    if (!list) {
      list = document.createElement("ul");
      list.className = "messagelist";
      var content = document.getElementById("content");
      content.parentNode.insertBefore(list, content);
    }
    var item = document.createElement("li");
    item.className = (level || "warning") + " faos-said";
    item.setAttribute("role", "status");
    item.textContent = text;
    list.appendChild(item);
    item.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("[data-confirm]");
    if (!trigger || window.confirm(trigger.dataset.confirm)) return;
    event.preventDefault();
    say(trigger.dataset.cancelled || "Cancelled: nothing changed.");
  });

  /* ---- folded steps ---- */

  function stepRows() {
    return Array.prototype.filter.call(document.querySelectorAll("#steps-group .inline-related"), function (row) {
      return !row.classList.contains("empty-form") && row.id !== "steps-empty";
    });
  }

  function setFolded(row, folded) {
    row.classList.toggle("faos-folded", folded);
    var toggle = row.querySelector(".faos-step-toggle");
    if (toggle) toggle.setAttribute("aria-expanded", String(!folded));
    if (!folded) load([row]);
  }

  function kindLabel(row) {
    var select = row.querySelector("select[name$='-kind']");
    if (!select) return row.dataset.kindLabel || "";
    return select.selectedIndex >= 0 ? select.options[select.selectedIndex].text : "";
  }

  /* ---- a folded step's form, fetched when it opens ---- */

  function fill(row, html) {
    /* the form replaces the folded body; the position it posted (moved up or down folded) carries over */
    var body = row.querySelector(".faos-step-body"), position = body.querySelector("input[name$='-position']").value;
    var template = document.createElement("template");
    template.innerHTML = html;
    body.replaceWith(template.content);
    row.querySelector("input[name$='-position']").value = position;
    row.classList.remove("faos-lazy");
    row.dispatchEvent(new CustomEvent("faos:step-loaded", { bubbles: true }));
  }

  function unloaded(row, message) {
    var note = row.querySelector(".faos-step-summary");
    if (note) { note.textContent = message; note.classList.add("faos-step-failed"); }
  }

  var PER_REQUEST = 100;  // the server answers at most 200 forms at once

  function load(rows) {
    /* one request per 100 folded rows asked for; a row saves as it is until its form has arrived */
    rows = rows.filter(function (row) { return row.classList.contains("faos-lazy") && !row.faosLoading; });
    var requests = [];
    for (var i = 0; i < rows.length; i += PER_REQUEST) requests.push(loadSome(rows.slice(i, i + PER_REQUEST)));
    return Promise.all(requests);
  }

  function loadSome(rows) {
    var url = (document.getElementById("steps-group") || { dataset: {} }).dataset.stepForms;
    if (!url) return Promise.resolve();
    var index = function (row) { return row.id.split("-").pop(); };
    var query = rows.map(function (row) { return index(row) + "." + row.dataset.step; }).join(",");
    var request = fetch(url + "?rows=" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || response.statusText);
          rows.forEach(function (row) {
            if (typeof body.forms[index(row)] !== "string") throw new Error("no form came back; reload the page");
            fill(row, body.forms[index(row)]);
          });
        });
      })
      .catch(function (error) {
        rows.filter(function (row) { return row.classList.contains("faos-lazy"); }).forEach(function (row) {
          row.faosLoading = null;  // opening it again asks again
          unloaded(row, "Could not open this step: " + error.message);
        });
      });
    rows.forEach(function (row) { row.faosLoading = request; });
    return request;
  }

  function decorate(row, folded) {
    var head = row.querySelector("h3");
    if (!head || row.querySelector(".faos-step-toggle")) return;
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "faos-step-toggle";
    toggle.title = "Show or hide this step";
    toggle.addEventListener("click", function () { setFolded(row, !row.classList.contains("faos-folded")); });
    head.insertBefore(toggle, head.firstChild);
    var kind = document.createElement("span");
    kind.className = "faos-step-kind";
    kind.textContent = kindLabel(row).replace(/\s*\(.*\)$/, "");
    head.querySelector(".inline_label").after(kind);
    head.addEventListener("click", function (event) {
      if (event.target.closest("button, input, label, a, select")) return;
      setFolded(row, !row.classList.contains("faos-folded"));
    });
    row.classList.add("faos-step");
    setFolded(row, folded);
  }

  function foldAll(folded) {
    if (!folded) load(stepRows());
    stepRows().forEach(function (row) { setFolded(row, folded); });
  }

  function stepTools() {
    var heading = document.getElementById("steps-heading");
    if (!heading || heading.querySelector(".faos-step-tools")) return;
    var tools = document.createElement("span");
    tools.className = "faos-step-tools";
    [["Open all", false], ["Fold all", true]].forEach(function (pair) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "faos-mini";
      b.textContent = pair[0];
      b.addEventListener("click", function () { foldAll(pair[1]); });
      tools.appendChild(b);
    });
    heading.appendChild(tools);
  }

  /* ---- go to a step and a field ---- */

  function openAround(node) {
    for (var el = node; el; el = el.parentElement) {
      if (el.tagName === "DETAILS") el.open = true;
      if (el.classList && el.classList.contains("faos-step")) setFolded(el, false);
    }
  }

  function stepRow(key) {
    return stepRows().filter(function (row) {
      var input = row.querySelector("input[name$='-key']");
      return input ? input.value === key : row.dataset.stepKey === key;
    })[0];
  }

  function configTarget(row, path) {
    var parts = path.replace(/\[\d+\]/g, "").split(".");
    while (parts.length) {
      var found = row.querySelector('.faos-editor [data-path="' + parts.join(".") + '"]');
      if (found && found.offsetParent !== null) return found;
      parts.pop();
    }
    var json = row.querySelector("textarea[name$='-config']");
    return json && json.offsetParent !== null ? json : row.querySelector(".faos-editor") || json;
  }

  function fieldTarget(row, field, names) {
    if (field.indexOf("config.") === 0) return configTarget(row, field.slice(7));
    var name = names[field] || field.split(".")[0].replace(/\[\d+\]$/, "");
    return row.querySelector("[name='" + row.id + "-" + name + "']") || row;
  }

  function focusable(target) {
    if (target.matches("input, select, textarea, button")) return target;
    return target.querySelector("input:not([type=hidden]), select, textarea, button") || target;
  }

  function reveal(hash) {
    var params = new URLSearchParams(hash.replace(/^#/, ""));
    var field = params.get("field") || "", row = null, names = STEP_FIELDS;
    if (params.get("step")) row = stepRow(params.get("step"));
    else if (params.get("trigger")) { row = document.getElementById("triggers-" + params.get("trigger")); names = TRIGGER_FIELDS; }
    if (!row) return false;
    openAround(row);
    Promise.resolve(row.faosLoading).then(function () { land(row, field, names); });  // a folded step loads first
    return true;
  }

  function land(row, field, names) {
    var target = field ? fieldTarget(row, field, names) : row;
    openAround(target);
    var box = target.closest(".faos-field, .form-row, .fieldBox") || target;
    box.classList.remove("faos-flash");
    void box.offsetWidth;  // restart the highlight when the same link is followed twice
    box.classList.add("faos-flash");
    box.scrollIntoView({ block: "center" });
    focusable(target).focus({ preventScroll: true });
  }

  function samePage(link) {
    return link.pathname === window.location.pathname && /^#(step|trigger)=/.test(link.hash);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[href*='#']");
    if (link && samePage(link) && reveal(link.hash)) {
      event.preventDefault();
      history.replaceState(null, "", link.hash);
      return;
    }
    var node = event.target.closest(".faos-flow g.fd-node[data-key]");
    if (node && document.getElementById("steps-group")) reveal("#step=" + encodeURIComponent(node.dataset.key));
  });

  function markProblems() {
    /* the steps the messages' problem links name get a red mark on their folded title bar */
    document.querySelectorAll(".messagelist a.faos-problem-link").forEach(function (link) {
      var key = new URLSearchParams(link.hash.replace(/^#/, "")).get("step");
      var row = key && stepRow(key), head = row && row.querySelector("h3");
      if (!head || head.querySelector(".faos-step-problem")) return;
      var mark = document.createElement("span");
      mark.className = "faos-step-problem";
      mark.textContent = "problem";
      head.querySelector(".faos-step-kind").after(mark);
    });
  }

  function start() {
    var hasErrors = function (row) { return row.querySelector(".errorlist, .errors") !== null; };
    stepRows().forEach(function (row) {
      decorate(row, row.classList.contains("has_original") && !hasErrors(row));
    });
    stepTools();
    markProblems();
    if (document.getElementById("steps-group")) document.body.classList.add("faos-has-steps");
    document.addEventListener("formset:added", function (event) {
      if (event.target.id && event.target.id.indexOf("steps-") === 0) decorate(event.target, false);
    });
    if (window.location.hash) reveal(window.location.hash);
  }

  window.addEventListener("hashchange", function () { reveal(window.location.hash); });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
