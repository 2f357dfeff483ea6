"""The flow diagram: a definition drawn as a left-to-right SVG (trigger → steps → branches), rendered on the server.

Pure Python: `flow_svg(definition)` takes the import/export dict (or a parsed Definition) and returns SVG text.
A draft with problems (dangling targets, unknown kinds, malformed fields) draws what it can and never raises.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from html import escape

from executions.engine.definition import END, Definition, StepDef, lanes_of

from .diagram_layout import Box, Layout, Route, layout

log = logging.getLogger(__name__)

TRIGGER = "\0trigger"
NODE = (176, 56)  # width, height of a step
NAME_SIZE = 12  # px, a step name's font size
SMALL = (76, 28)  # a parallel step's join
TERMINAL = frozenset({"complete", "fail"})
BRANCHES = {  # the labels a kind chooses between; the ones not wired fall through to the following step
    "condition": ("true", "false"),
    "approval": ("on_approved", "on_rejected", "on_expired"),
    "wait_for_event": ("on_event", "on_timeout"),
    "switch": ("default",),
}
KIND_LABELS = {"wait_for_event": "wait for event", "sub_workflow": "sub-workflow", "loop": "loop · for each"}
FAMILY_KINDS = {  # kinds of one family share an accent colour
    "decide": ("condition", "switch"),
    "human": ("approval", "task"),
    "wait": ("wait", "wait_for_event"),
    "group": ("parallel", "loop", "sub_workflow"),
    "act": ("action", "agent"),
    "done": ("complete",),
    "fail": ("fail",),
}
FAMILIES = {kind: family for family, kinds in FAMILY_KINDS.items() for kind in kinds}


@dataclass
class Node:
    id: str
    kind: str  # a step kind, or "trigger", "join", "missing"
    name: str
    key: str = ""
    tip: str = ""


@dataclass
class Edge:
    source: str
    target: str
    labels: tuple[str, ...] = ()
    error: bool = False


def flow_svg(definition) -> str:
    """The flow of a definition (the exported dict, or a Definition) as an SVG document fragment."""
    try:
        parsed = definition if isinstance(definition, Definition) else Definition.from_dict(clean(definition))
        nodes, edges = build_graph(parsed, _triggers(parsed.raw))
        return render(nodes, edges)
    except Exception:  # noqa: BLE001 - a diagram must never break the page it sits on
        log.exception("flow diagram failed")
        return _message("The flow could not be drawn; the steps below are unchanged.")


def clean(raw) -> dict:
    """A copy of the exported form safe to parse: non-mapping steps dropped, odd fields emptied."""
    if not isinstance(raw, dict):
        return {}
    steps = raw.get("steps") if isinstance(raw.get("steps"), list) else []
    return {**raw, "steps": [_clean_step(s) for s in steps if isinstance(s, dict)]}


def _clean_step(step: dict) -> dict:
    fields = {k: step.get(k) if isinstance(step.get(k), dict) else {} for k in ("config", "branches", "retry")}
    fields["branches"] = {str(k): str(v) for k, v in fields["branches"].items() if v}
    fields["retry"] = {}  # the diagram never reads it, and odd values would not parse
    config = fields["config"]
    if isinstance(config.get("branches"), list):
        lanes = [b if isinstance(b, list) else [b] for b in config["branches"]]
        config = {**config, "branches": [[str(k) for k in lane] for lane in lanes]}
    elif "branches" in config:
        config = {**config, "branches": []}
    steps = config.get("steps")
    config = {**config, "steps": [str(k) for k in steps]} if isinstance(steps, list) else {**config, "steps": []}
    nxt = step.get("next")
    return {**step, **fields, "config": config, "next": str(nxt) if nxt else None}


def _triggers(raw: dict) -> list[dict]:
    triggers = raw.get("triggers") if isinstance(raw, dict) else None
    return [t for t in triggers if isinstance(t, dict)] if isinstance(triggers, list) else []


def build_graph(definition: Definition, triggers: list[dict]) -> tuple[dict[str, Node], list[Edge]]:
    """Nodes (trigger, steps, joins, missing targets) and the edges between them, merged per pair."""
    nodes = {TRIGGER: _trigger_node(triggers)}
    for step in definition.steps:
        nodes.setdefault(step.key, Node(step.key, step.kind, step.name, step.key, _tip(step)))
    edges = [Edge(TRIGGER, definition.start)] if definition.start else []
    for step in definition.steps:
        if step.kind == "parallel":
            nodes[_join(step.key)] = Node(_join(step.key), "join", _join_text(step), step.key, f"{step.name}: join")
            edges += _join_edges(definition, step)
        edges += step_edges(definition, step)
    for edge in edges:
        if edge.target not in nodes:
            nodes[edge.target] = Node(edge.target, "missing", edge.target, edge.target, f"{edge.target}: no such step")
    return nodes, _merge(edges)


def _trigger_node(triggers: list[dict]) -> Node:
    names = [str(t.get("name") or t.get("kind") or "trigger") for t in triggers]
    name = names[0] if names else "Run by hand"
    if len(names) > 1:
        name += f" +{len(names) - 1}"
    tip = "; ".join(f"{t.get('kind', 'manual')}: {n}" for t, n in zip(triggers, names, strict=True))
    return Node(TRIGGER, "trigger", name, tip=tip or "Started from the Run button")


def _tip(step: StepDef) -> str:
    return f"{step.name} ({step.key}) · {step.kind}"


def _join(key: str) -> str:
    return f"\0join:{key}"


def _join_text(step: StepDef) -> str:
    join = step.config.get("join") or "all"
    return f"join {join} of {len(lanes_of(step))}" if str(join).isdigit() else f"join {join}"


def step_edges(definition: Definition, step: StepDef) -> list[Edge]:
    """Where a step may lead: its branches, its fall-through, a container's lanes, its error route."""
    edges = []
    if step.kind not in TERMINAL:
        edges += _branch_edges(definition, step) if step.kind in BRANCHES else _plain_edges(definition, step)
    if step.on_error == "goto" and step.on_error_goto:
        edges.append(Edge(step.key, str(step.on_error_goto), ("on error",), error=True))
    return edges


def _branch_edges(definition: Definition, step: StepDef) -> list[Edge]:
    """Each wired branch; the labels left unwired (and branches to "end") fall through to the following step."""
    edges, fall = [], []
    for label, target in step.branches.items():
        if target == END:
            fall.append(label)  # the engine treats a branch to "end" like a missing one
        else:
            edges.append(Edge(step.key, target, (_label(step.kind, label),)))
    fall += [label for label in BRANCHES[step.kind] if label not in step.branches]
    following, _ = after(definition, step)
    if following and fall:
        edges.append(Edge(step.key, following, tuple(_label(step.kind, label) for label in fall)))
    return edges


def _label(kind: str, label: str) -> str:
    """Approvals read better as approved / rejected / expired."""
    return label.removeprefix("on_") if kind == "approval" else label


def _plain_edges(definition: Definition, step: StepDef) -> list[Edge]:
    """The next step; a container's lanes (to their first steps) and, for a loop, the way on when done."""
    lanes = lanes_of(step)
    if step.kind == "parallel":
        return [Edge(step.key, lane[0]) if lane else Edge(step.key, _join(step.key)) for lane in lanes]
    target, label = after(definition, step)
    if step.kind == "loop":
        body = [Edge(step.key, lane[0], ("each",)) for lane in lanes if lane]
        return body + ([Edge(step.key, target, ("done",))] if target else [])
    return [Edge(step.key, target, (label,) if label else ())] if target else []


def _join_edges(definition: Definition, step: StepDef) -> list[Edge]:
    target, label = after(definition, step)
    return [Edge(_join(step.key), target, (label,) if label else ())] if target else []


def after(definition: Definition, step: StepDef) -> tuple[str | None, str]:
    """Where the default path goes on: the next step, else the end of its lane (a join, or back to its loop)."""
    following = definition.next_of(step)
    if following:
        return str(following), ""
    lane = definition.lane_end(step)
    if lane is None:
        return None, ""
    owner = definition.step(lane.owner)
    return (_join(owner.key), "") if owner.kind == "parallel" else (owner.key, "next")


def _merge(edges: list[Edge]) -> list[Edge]:
    """One edge per source and target, carrying every label that leads there."""
    merged: dict[tuple[str, str], Edge] = {}
    for edge in edges:
        seen = merged.get((edge.source, edge.target))
        if seen is None:
            merged[(edge.source, edge.target)] = Edge(edge.source, edge.target, edge.labels, edge.error)
        else:
            seen.labels = tuple(dict.fromkeys(seen.labels + edge.labels))
    return list(merged.values())


def text_width(text: str, size: float = 10.5) -> float:
    """A sans-serif estimate: the layout only needs room for labels, not exact metrics."""
    return len(text) * size * 0.58 + 4


def render(nodes: dict[str, Node], edges: list[Edge]) -> str:
    """Lay out and draw: edges under nodes, labels on top."""
    labels = [" / ".join(e.labels) for e in edges]
    sizes = {k: SMALL if n.kind == "join" else NODE for k, n in nodes.items()}
    placed = layout(sizes, [(e.source, e.target) for e in edges], [text_width(t) for t in labels], [TRIGGER])
    uid = "fd" + hashlib.sha1(repr((sorted(nodes), labels)).encode()).hexdigest()[:8]
    return draw(nodes, edges, labels, placed, uid)


STYLE = """
.faos-flow-svg { font-family: var(--font-family-primary, -apple-system, "Segoe UI", Roboto, sans-serif); }
.fd-shape { fill: var(--body-bg, #fff); stroke: var(--border-color, #ccc); stroke-width: 1.2; }
.fd-inner { fill: none; stroke: var(--border-color, #ccc); }
.fd-kind { fill: var(--body-quiet-color, #666); font-size: 9.5px; letter-spacing: .05em; }
.fd-name { fill: var(--body-fg, #333); font-size: 12px; font-weight: 600; }
.fd-trigger .fd-shape { fill: var(--secondary, #417690); stroke: none; }
.fd-trigger .fd-name, .fd-trigger .fd-kind { fill: #fff; }
.fd-decide .fd-shape { stroke: var(--link-fg, #417893); stroke-width: 1.6; }
.fd-done .fd-shape { stroke: #10b981; stroke-width: 2.2; }
.fd-fail .fd-shape, .fd-missing .fd-shape { stroke: var(--error-fg, #ba2121); stroke-width: 2.2; }
.fd-missing .fd-shape { stroke-dasharray: 5 3; stroke-width: 1.4; }
.fd-join .fd-shape { fill: var(--darkened-bg, #f8f8f8); }
.fd-bar { fill: var(--border-color, #ccc); }
.fd-act .fd-bar { fill: #3b82f6; } .fd-human .fd-bar { fill: #8b5cf6; }
.fd-wait .fd-bar { fill: #f59e0b; } .fd-group .fd-bar { fill: #14b8a6; }
.fd-edge { fill: none; stroke: var(--body-quiet-color, #888); stroke-width: 1.4; }
.fd-back { stroke-dasharray: 6 4; }
.fd-err { stroke: var(--error-fg, #ba2121); stroke-dasharray: 2 3; }
.fd-tip { fill: var(--body-quiet-color, #888); } .fd-tip-err { fill: var(--error-fg, #ba2121); }
.fd-label { fill: var(--body-fg, #333); font-size: 10.5px; paint-order: stroke; stroke: var(--body-bg, #fff);
  stroke-width: 4px; stroke-linejoin: round; }
"""


def draw(nodes: dict[str, Node], edges: list[Edge], labels: list[str], placed: Layout, uid: str) -> str:
    """The SVG text: styles and arrowheads, then edges, nodes and labels."""
    width, height = round(placed.width), round(placed.height)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="faos-flow-svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Flow diagram">',
        f"<style>{STYLE}</style>",
        _markers(uid),
    ]
    parts += [_edge_svg(edge, route, uid) for edge, route in zip(edges, placed.routes, strict=True)]
    parts += [_node_svg(node, placed.boxes[key]) for key, node in nodes.items()]
    parts += [_label_svg(text, route) for text, route in zip(labels, placed.routes, strict=True) if text]
    return "".join(parts) + "</svg>"


def _markers(uid: str) -> str:
    tip = (
        '<marker id="{uid}-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,1 L10,5 L0,9 z" class="{cls}"/></marker>'
    )
    return (
        f"<defs>{tip.format(uid=uid, name='a', cls='fd-tip')}{tip.format(uid=uid, name='e', cls='fd-tip-err')}</defs>"
    )


def _edge_svg(edge: Edge, route: Route, uid: str) -> str:
    """A path whose data attributes name its ends (step keys, "trigger", "<key>.join") and its labels."""
    cls = "fd-edge" + (" fd-back" if route.back else "") + (" fd-err" if edge.error else "")
    source, target, label = escape(_public(edge.source)), escape(_public(edge.target)), escape(" / ".join(edge.labels))
    return (
        f'<path class="{cls}" data-from="{source}" data-to="{target}" data-label="{label}" '
        f'd="{_path(route.points)}" marker-end="url(#{uid}-{"e" if edge.error else "a"})">'
        f"<title>{source} → {target}{': ' if label else ''}{label}</title></path>"
    )


def _public(node_id: str) -> str:
    """A node's id as the page shows it: synthetic ids become "trigger" and "<key>.join"."""
    if node_id == TRIGGER:
        return "trigger"
    return node_id.removeprefix("\0join:") + ".join" if node_id.startswith("\0join:") else node_id


def _path(points: list[tuple[float, float]], radius: float = 6.0) -> str:
    """An orthogonal polyline with rounded corners."""
    if len(points) < 2:
        return ""
    d = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for prev, here, nxt in zip(points, points[1:], points[2:], strict=False):
        r = min(radius, _distance(prev, here) / 2, _distance(here, nxt) / 2)
        a, b = _toward(here, prev, r), _toward(here, nxt, r)
        d.append(f"L{a[0]:.1f},{a[1]:.1f} Q{here[0]:.1f},{here[1]:.1f} {b[0]:.1f},{b[1]:.1f}")
    d.append(f"L{points[-1][0]:.1f},{points[-1][1]:.1f}")
    return " ".join(d)


def _distance(a, b) -> float:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def _toward(here, there, r: float) -> tuple[float, float]:
    length = _distance(here, there) or 1
    return here[0] + (there[0] - here[0]) * r / length, here[1] + (there[1] - here[1]) * r / length


def _label_svg(text: str, route: Route) -> str:
    x, y, anchor = route.label_at
    return f'<text class="fd-label" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>'


def _node_svg(node: Node, box: Box) -> str:
    """A step: its shape by kind, the kind in small capitals, the name cut to fit, the full text as tooltip."""
    family = FAMILIES.get(node.kind, node.kind if node.kind in ("trigger", "join", "missing") else "other")
    attribute = {"missing": "data-missing", "join": "data-join"}.get(node.kind, "data-key")
    key = f' {attribute}="{escape(node.key)}"' if node.key else ""
    x, y = box.x, box.y - box.h / 2
    body = _shape(node.kind, x, y, box.w, box.h)
    if node.kind == "join":
        body += f'<text class="fd-kind" x="{x + box.w / 2:.1f}" y="{box.y + 3.5:.1f}" text-anchor="middle">'
        body += f"{escape(node.name)}</text>"
    else:
        pad = 16 if node.kind in ("condition", "switch", "trigger", "complete", "fail") else 12
        body += f'<text class="fd-kind" x="{x + pad:.1f}" y="{y + 17:.1f}">{escape(_kind_text(node))}</text>'
        lines = _wrap(node.name, box.w - pad * 2)
        for i, line in enumerate(lines):
            top = y + (36 if len(lines) == 1 else 32 + 14 * i)
            body += f'<text class="fd-name" x="{x + pad:.1f}" y="{top:.1f}">{escape(line)}</text>'
    tip = node.tip or node.name
    return f'<g class="fd-node fd-{family}"{key}><title>{escape(tip)}</title>{body}</g>'


def _kind_text(node: Node) -> str:
    if node.kind == "trigger":
        return "TRIGGER"
    if node.kind == "missing":
        return "MISSING STEP"
    glyph = {"complete": "✓ ", "fail": "✕ "}.get(node.kind, "")
    return glyph + KIND_LABELS.get(node.kind, node.kind).upper()


def _shape(kind: str, x: float, y: float, w: float, h: float) -> str:
    """Decisions are hexagons, the trigger, ends and joins pills, containers double-framed, the rest cards."""
    if kind in ("condition", "switch"):
        points = [
            (x + 10, y),
            (x + w - 10, y),
            (x + w, y + h / 2),
            (x + w - 10, y + h),
            (x + 10, y + h),
            (x, y + h / 2),
        ]
        return '<polygon class="fd-shape" points="{}"/>'.format(" ".join(f"{a:.1f},{b:.1f}" for a, b in points))
    rect = f'x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}"'
    if kind in ("trigger", "complete", "fail", "join"):
        return f'<rect class="fd-shape" {rect} rx="{h / 2:.1f}"/>'
    shape = f'<rect class="fd-shape" {rect} rx="6"/>'
    if kind in ("parallel", "loop"):
        shape += (
            f'<rect class="fd-inner" x="{x + 3:.1f}" y="{y + 3:.1f}" width="{w - 6:.1f}" height="{h - 6:.1f}" rx="4"/>'
        )
    return shape + f'<rect class="fd-bar" x="{x + 4:.1f}" y="{y + 8:.1f}" width="3" height="{h - 16:.1f}" rx="1.5"/>'


def _wrap(text: str, width: float, lines: int = 2) -> list[str]:
    """Words on up to `lines` lines of `width`; what does not fit is cut with an ellipsis (the tooltip has it all)."""
    out: list[str] = []
    words = text.split() or [""]
    while words and len(out) < lines:
        line = words.pop(0)
        while words and text_width(f"{line} {words[0]}", NAME_SIZE) <= width:
            line += " " + words.pop(0)
        out.append(line)
    if words:
        out[-1] = " ".join([out[-1], *words])
    return [_cut(line, width) if text_width(line, NAME_SIZE) > width else line for line in out]


def _cut(text: str, width: float) -> str:
    while text and text_width(text + "…", NAME_SIZE) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _message(text: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" class="faos-flow-svg" width="480" height="40" role="img">'
        f'<text x="8" y="24" style="fill: var(--body-quiet-color, #666); font-size: 13px">{escape(text)}</text></svg>'
    )
