"""A readable diff between two versions: steps added, removed and changed field by field."""

from __future__ import annotations

from executions.engine.spelling import canonical_definition

SETTINGS = ("name", "timeout_seconds", "on_failure", "activation_review")


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict) and value:
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _changes(old: dict, new: dict) -> dict:
    before, after = _flatten(old), _flatten(new)
    return {
        k: {"from": before.get(k), "to": after.get(k)}
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }


def version_diff(old: dict, new: dict) -> dict:
    """Settings changes, steps added and removed, and per-step field changes as {field: {from, to}}."""
    old, new = canonical_definition(old)[0], canonical_definition(new)[0]  # a respelling is not a change
    old_steps = {s["key"]: s for s in old.get("steps", [])}
    new_steps = {s["key"]: s for s in new.get("steps", [])}
    changed = {key: _changes(old_steps[key], new_steps[key]) for key in old_steps.keys() & new_steps.keys()}
    old_order = [k for k in old_steps if k in new_steps]
    new_order = [k for k in new_steps if k in old_steps]
    return {
        "settings": _changes({k: old.get(k) for k in SETTINGS}, {k: new.get(k) for k in SETTINGS}),
        "added": [k for k in new_steps if k not in old_steps],
        "removed": [k for k in old_steps if k not in new_steps],
        "changed": {k: v for k, v in sorted(changed.items()) if v},
        "reordered": old_order != new_order,
        "triggers": _changes({"triggers": old.get("triggers", [])}, {"triggers": new.get("triggers", [])}),
    }
