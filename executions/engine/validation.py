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


def validate(definition: Definition, *, check_action: ActionChecker | None = None) -> list[Problem]:
    """Every problem found, in step order; an empty list means the definition may be activated."""
    if not definition.steps:
        return [Problem(None, "steps", "add at least one step")]
    problems = _check_keys(definition)
    for step in definition.steps:
        problems += _check_step(definition, step, check_action)
    if not problems:
        problems += _check_reachable(definition)
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
