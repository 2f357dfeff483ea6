"""Checks a definition before it can be activated; every problem names the step and the field."""

from __future__ import annotations

import re
from collections.abc import Callable

from . import expressions, kinds
from .definition import END, Definition, StepDef, lanes_of
from .problems import Problem

KEY_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED = frozenset({"trigger", "workflow", "vars", "item", "index", "event", "env", "true", "false", "null"})
ON_ERROR = frozenset({"stop", "continue", "retry", "goto", "notify", "notify_continue"})

ActionChecker = Callable[[StepDef], list[Problem]]


def validate(
    definition: Definition, *, check_action: ActionChecker | None = None, check_step: ActionChecker | None = None
) -> list[Problem]:
    """Every problem found, in step order; an empty list means the definition may be activated."""
    if not definition.steps:
        return [Problem(None, "steps", "add at least one step")]
    problems = _check_keys(definition)
    for step in definition.steps:
        problems += _check_step(definition, step, check_action)
        if check_step and kinds.get(step.kind):
            problems += check_step(step)  # things only the app knows: agents, other workflows
    if not problems:
        problems += _check_reachable(definition)
    if not problems:
        graph = step_graph(definition)
        problems += _check_cycles(definition, graph)
        problems += _check_references(definition, graph)
    return problems


def _check_keys(definition: Definition) -> list[Problem]:
    problems, seen = [], set()
    for step in definition.steps:
        if not KEY_RE.match(step.key):
            problems.append(Problem(step.key, "key", "use lower-case letters, digits and _ (e.g. verify_email)"))
        elif step.key in RESERVED:
            problems.append(Problem(step.key, "key", f"'{step.key}' is a reserved variable name"))
        if step.key in seen:
            problems.append(Problem(step.key, "key", "another step has the same key"))
        seen.add(step.key)
    return problems


def _check_step(definition: Definition, step: StepDef, check_action: ActionChecker | None) -> list[Problem]:
    kind = kinds.get(step.kind)
    if kind is None:
        return [Problem(step.key, "kind", f"unknown step kind '{step.kind}' (known: {', '.join(kinds.names())})")]
    problems = _check_targets(definition, step, kind)
    problems += kind.validate(step, definition)
    if step.kind == "action" and check_action and not problems:
        problems += check_action(step)
    problems += _check_expressions(step, kind)
    problems += _check_policies(step)
    return problems


def _check_targets(definition: Definition, step: StepDef, kind: kinds.StepKind) -> list[Problem]:
    problems = []
    targets = [("next", step.next)] + [(f"branches.{label}", key) for label, key in step.branches.items()]
    for field, target in targets:
        if target and target != END and not definition.has_step(target):
            problems.append(Problem(step.key, field, f"goes to '{target}', which is not a step of this workflow"))
    for label in step.branches:
        if kind.branch_labels and label not in kind.branch_labels:
            allowed = ", ".join(kind.branch_labels)
            problems.append(Problem(step.key, f"branches.{label}", f"unknown branch (use {allowed})"))
    return problems


def _check_expressions(step: StepDef, kind: kinds.StepKind) -> list[Problem]:
    problems = []
    for field, text, is_condition in kind.expressions(step):
        for message in expressions.check_syntax(text, condition=is_condition):
            problems.append(Problem(step.key, field, message))
    return problems


def _check_policies(step: StepDef) -> list[Problem]:
    if step.on_error not in ON_ERROR:
        return [Problem(step.key, "on_error", f"unknown policy '{step.on_error}'")]
    if step.on_error == "goto" and not step.on_error_goto:
        return [Problem(step.key, "on_error_goto", "choose the step to go to when this one fails")]
    if step.retry.max_attempts < 1:
        return [Problem(step.key, "retry.max_attempts", "must be at least 1")]
    return []


def _check_reachable(definition: Definition) -> list[Problem]:
    """Steps no path from the start can reach are almost always a wiring mistake."""
    seen, stack = set(), [definition.start]
    while stack:
        key = stack.pop()
        if key is None or key in seen or key == END:
            continue
        seen.add(key)
        stack.extend(successors(definition, definition.step(key)))
    return [
        Problem(s.key, "key", "no path from the first step reaches this step")
        for s in definition.steps
        if s.key not in seen
    ]


def successors(definition: Definition, step: StepDef) -> list[str]:
    """Every step that may run right after `step`, whatever its outcome."""
    kind = kinds.get(step.kind)
    found = [] if kind and kind.terminal else list(step.branches.values())
    if kind and not kind.terminal and not kind.branch_labels:
        found.append(definition.next_of(step))
    if kind and kind.branch_labels and set(kind.branch_labels) - set(step.branches):
        found.append(definition.next_of(step))
    if step.on_error in ("continue", "notify_continue"):
        found.append(definition.next_of(step))
    if step.on_error == "goto":
        found.append(step.on_error_goto)
    found += [lane[0] for lane in lanes_of(step) if lane]
    return [k for k in found if k]


BRANCHING = frozenset({"condition", "switch", "wait_for_event"})
NOT_STEPS = RESERVED | {"event"}


def step_graph(definition: Definition) -> dict[str, set[str]]:
    """Step → steps that may run next, including the way out of a lane after its container joins."""
    graph = {step.key: set(successors(definition, step)) for step in definition.steps}
    for step in definition.steps:
        lane = definition.lane_end(step)
        if lane and definition.next_of(step) is None:
            graph[step.key] |= _continuations(definition, definition.step(lane.owner))
    return graph


def _continuations(definition: Definition, container: StepDef) -> set[str]:
    following = definition.next_of(container)
    if following:
        return {following}
    lane = definition.lane_end(container)
    return _continuations(definition, definition.step(lane.owner)) if lane else set()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one step (or a step that leads to itself): Tarjan's algorithm,
    iterative so that a workflow of thousands of steps does not exhaust Python's recursion limit."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def enter(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        return node, iter(graph.get(node, ()))

    for root in graph:
        if root in index:
            continue
        work = [enter(root)]
        while work:
            node, children = work[-1]
            for nxt in children:
                if nxt not in index:
                    work.append(enter(nxt))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    found.extend(_group(graph, node, stack, on_stack))
    return found


def _group(graph, node, stack, on_stack) -> list[list[str]]:
    """Pop the component rooted at node; a cycle only if it has several steps or a step that leads to itself."""
    group = []
    while True:
        item = stack.pop()
        on_stack.discard(item)
        group.append(item)
        if item == node:
            break
    return [group] if len(group) > 1 or node in graph.get(node, ()) else []


def _check_cycles(definition: Definition, graph: dict[str, set[str]]) -> list[Problem]:
    """A cycle must pass a branching step that can leave it, or it never ends."""
    problems = []
    for group in _cycles(graph):
        if not any(definition.step(key).kind in BRANCHING for key in group):
            ordered = [s.key for s in definition.steps if s.key in group]
            problems.append(
                Problem(
                    ordered[0],
                    "next",
                    f"endless loop through {' → '.join(ordered)}; add a condition that leaves it, or use a loop step",
                )
            )
    return problems


def ancestors(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {key: set() for key in graph}
    for key, nexts in graph.items():
        for nxt in nexts:
            parents.setdefault(nxt, set()).add(key)
    result = {}
    for key in graph:
        seen, stack = set(), list(parents.get(key, ()))
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(parents.get(node, ()))
        result[key] = seen
    return result


def _check_references(definition: Definition, graph: dict[str, set[str]]) -> list[Problem]:
    """`{{step.result}}` must name a step that can have run before this one; `item` only inside a loop."""
    before = ancestors(graph)
    keys = {s.key for s in definition.steps}
    problems = []
    for step in definition.steps:
        for field, text, is_condition in kinds.get(step.kind).expressions(step):
            names = expressions.references(text, condition=is_condition)
            for name in sorted(names & keys - before[step.key]):
                problems.append(Problem(step.key, field, f"uses '{name}', which cannot have run before this step"))
            if names & {"item", "index"} and not _in_loop(definition, step):
                problems.append(Problem(step.key, field, "uses 'item' or 'index' outside a loop's steps"))
    return problems


def _in_loop(definition: Definition, step: StepDef) -> bool:
    lane = definition.lane_end(step)
    while lane:
        owner = definition.step(lane.owner)
        if owner.kind == "loop":
            return True
        lane = definition.lane_end(owner)
    return False
