/* FAOS flow viewer: every .faos-flow diagram fits the page width; large flows zoom (buttons, Ctrl+wheel, +/-,
   double-click) and pan (drag, arrow keys). Only the SVG's viewBox changes, so the drawing stays crisp and the page
   still works with JS off (the diagram then scrolls sideways as before). No dependencies. */
(function () {
  "use strict";

  var MAX_HEIGHT = 520, MIN_HEIGHT = 120, MAX_SCALE = 2.5, STEP = 1.25, DRAG = 4;
  var HINT = "Ctrl + wheel or +/− to zoom";
  var READABLE = 0.5;  // below this the names cannot be read: a larger flow opens at its start, Fit shows it all

  function button(label, title, onclick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "faos-mini";
    b.textContent = label;
    b.title = title;
    b.setAttribute("aria-label", title);
    b.addEventListener("click", onclick);
    return b;
  }

  function Viewer(box, svg) {
    var vb = svg.viewBox.baseVal;
    this.box = box;
    this.svg = svg;
    this.w = vb.width;
    this.h = vb.height;
    this.x = 0;
    this.y = 0;
    this.scale = 1;
    this.fitted = true;
    this.tools();
    this.open();
    this.listen();
  }

  Viewer.prototype.tools = function () {
    var self = this;
    this.level = document.createElement("span");
    this.level.className = "faos-flow-level";
    var bar = document.createElement("div");
    bar.className = "faos-flow-tools";
    bar.appendChild(button("−", "Zoom out", function () { self.zoomBy(1 / STEP); }));
    bar.appendChild(this.level);
    bar.appendChild(button("+", "Zoom in", function () { self.zoomBy(STEP); }));
    bar.appendChild(button("Fit", "Fit the whole flow", function () { self.fit(); }));
    bar.appendChild(button("100%", "Actual size", function () { self.zoomTo(1); }));
    this.hint = document.createElement("span");
    this.hint.className = "faos-flow-hint";
    this.hint.setAttribute("aria-live", "polite");
    bar.appendChild(this.hint);
    this.box.parentNode.insertBefore(bar, this.box);
    this.box.classList.add("faos-flow-live");
    this.box.dataset.width = this.w;  // the drawing's own size, at 100%
    this.box.dataset.height = this.h;
    this.box.tabIndex = 0;
    this.box.setAttribute("aria-label", "Flow diagram: arrow keys move, + and − zoom, 0 fits");
    this.svg.removeAttribute("width");
    this.svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
  };

  Viewer.prototype.size = function () {
    /* the box's height, fixed while the width stays: the flow's height at the scale it opens at */
    var width = this.box.clientWidth || this.w;
    var opening = Math.min(1, Math.max(READABLE, width / this.w));
    this.height = Math.max(MIN_HEIGHT, Math.min(MAX_HEIGHT, Math.ceil(this.h * opening)));
  };

  Viewer.prototype.fitScale = function () {
    var width = this.box.clientWidth || this.w;
    return Math.min(1, width / this.w, this.height / this.h);
  };

  Viewer.prototype.open = function () {
    this.size();
    if (this.fitScale() >= READABLE) return this.fit();
    this.scale = READABLE;  // the start of a large flow, readable; the whole of it is one click (Fit) away
    this.x = 0;
    this.y = this.h * READABLE <= this.height ? -(this.height / READABLE - this.h) / 2 : 0;
    this.fitted = false;
    this.draw();
  };

  Viewer.prototype.fit = function () {
    var s = this.fitScale();
    this.scale = s;
    this.x = 0;
    this.y = -(this.height / s - this.h) / 2;
    this.fitted = true;
    this.draw();
  };

  Viewer.prototype.zoomTo = function (scale, px, py) {
    var s = Math.max(this.fitScale(), Math.min(MAX_SCALE, scale));
    var width = this.box.clientWidth, ux, uy;
    px = px === undefined ? width / 2 : px;
    py = py === undefined ? this.height / 2 : py;
    ux = this.x + px / this.scale;
    uy = this.y + py / this.scale;
    this.scale = s;
    this.x = ux - px / s;
    this.y = uy - py / s;
    this.fitted = false;
    this.draw();
  };

  Viewer.prototype.zoomBy = function (factor, px, py) { this.zoomTo(this.scale * factor, px, py); };

  Viewer.prototype.panBy = function (dx, dy) {
    this.x -= dx / this.scale;
    this.y -= dy / this.scale;
    this.fitted = false;
    this.draw();
  };

  Viewer.prototype.clamp = function (value, content, view) {
    /* keep some of the drawing in sight: never pan it entirely out of the box */
    var low = Math.min(0, content - view), high = Math.max(0, content - view);
    return Math.max(low - view / 3, Math.min(high + view / 3, value));
  };

  Viewer.prototype.draw = function () {
    var width = this.box.clientWidth || this.w;
    var vw = width / this.scale, vh = this.height / this.scale;
    if (!this.fitted) {
      this.x = this.clamp(this.x, this.w, vw);
      this.y = this.clamp(this.y, this.h, vh);
    }
    this.svg.setAttribute("viewBox", [this.x, this.y, vw, vh].map(function (n) { return n.toFixed(1); }).join(" "));
    this.svg.style.width = "100%";
    this.svg.style.height = this.height + "px";
    this.box.dataset.scale = this.scale.toFixed(3);
    this.box.classList.toggle("faos-flow-zoomed", this.scale > this.fitScale() + 0.001);
    this.level.textContent = Math.round(this.scale * 100) + "%";
    var partial = this.x > 1 || this.y > 1 || this.x + vw < this.w - 1 || this.y + vh < this.h - 1;
    var hint = (partial ? "Part of the flow: drag to move, or Fit to see it all · " : "") + HINT;
    if (this.hint.textContent !== hint) this.hint.textContent = hint;  // aria-live: say it only when it changes
  };

  Viewer.prototype.point = function (event) {
    var rect = this.svg.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  };

  Viewer.prototype.listen = function () {
    var self = this, drag = null;
    this.svg.addEventListener("wheel", function (event) {
      if (!event.ctrlKey && !event.metaKey) return;  // a plain wheel scrolls the page, as everywhere else
      event.preventDefault();
      var p = self.point(event);
      self.zoomBy(event.deltaY < 0 ? STEP : 1 / STEP, p[0], p[1]);
    }, { passive: false });
    this.svg.addEventListener("dblclick", function (event) {
      var p = self.point(event);
      self.zoomBy(STEP * STEP, p[0], p[1]);
    });
    this.svg.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, moved: false, id: event.pointerId };
    });
    this.svg.addEventListener("pointermove", function (event) {
      if (!drag || drag.id !== event.pointerId) return;
      var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < DRAG) return;
      if (!drag.moved) self.svg.setPointerCapture(event.pointerId);
      drag.moved = true;
      drag.x = event.clientX;
      drag.y = event.clientY;
      self.box.classList.add("faos-flow-dragging");
      self.panBy(dx, dy);
    });
    function end() {
      self.box.classList.remove("faos-flow-dragging");
      self.dragged = drag && drag.moved;
      drag = null;
    }
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
    this.svg.addEventListener("click", function (event) {
      if (self.dragged) { event.stopPropagation(); event.preventDefault(); }  // a drag is not a click on a step
      self.dragged = false;
    }, true);
    this.box.addEventListener("keydown", function (event) {
      var moves = { ArrowLeft: [40, 0], ArrowRight: [-40, 0], ArrowUp: [0, 40], ArrowDown: [0, -40] };
      if (event.key === "+" || event.key === "=") self.zoomBy(STEP);
      else if (event.key === "-") self.zoomBy(1 / STEP);
      else if (event.key === "0") self.fit();
      else if (moves[event.key]) self.panBy(moves[event.key][0], moves[event.key][1]);
      else return;
      event.preventDefault();
    });
    window.addEventListener("resize", function () {
      self.size();
      if (self.fitted) self.fit();
      else self.draw();
    });
  };

  function start() {
    document.querySelectorAll(".faos-flow").forEach(function (box) {
      var svg = box.querySelector("svg.faos-flow-svg");
      if (!svg || box.faosViewer || !svg.viewBox.baseVal || !svg.viewBox.baseVal.width) return;
      box.faosViewer = new Viewer(box, svg);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
