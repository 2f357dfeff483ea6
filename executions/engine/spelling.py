"""One spelling for a definition (the guide's): older spellings are still read, each with a deprecation note.

The current spelling is `next`, `retry: {max_attempts, …}` and `input` for every kind that takes one (agent,
action, sub_workflow). The API once wrote `next_step` and `retry_max_attempts`, and action steps `inputs`.
"""

from __future__ import annotations

RETRY_FIELDS = ("max_attempts", "initial_delay", "multiplier", "max_delay", "jitter")
OLD_STEP_FIELDS = {"next_step": "next", "next_step_id": "next", **{f"retry_{f}": f"retry.{f}" for f in RETRY_FIELDS}}
OLD_CONFIG_FIELDS = {"action": {"inputs": "input"}}  # kind -> {old config key: current key}


def note(field: str, current: str) -> str:
    """The deprecation note for one old spelling, naming the field and what to write instead."""
    return f"{field}: deprecated spelling, write {current} (the old spelling is still read for now)"


def canonical_config(kind: str, config, where: str = "config") -> tuple[dict, list[str]]:
    """A step's config in the current spelling, and a note per old key it used (the current key wins if both)."""
    renames = OLD_CONFIG_FIELDS.get(kind or "action", {})
    if not isinstance(config, dict) or not any(old in config for old in renames):
        return config, []
    config, notes = dict(config), []
    for old, current in renames.items():
        if old in config:
            value = config.pop(old)
            config.setdefault(current, value)
            notes.append(note(f"{where}.{old}", f"{where}.{current}"))
    return config, notes


def canonical_step(data, where: str = "") -> tuple[dict, list[str]]:
    """One step (the export format) in the current spelling, and a note per old spelling it used."""
    if not isinstance(data, dict):
        return data, []
    prefix = f"{where}." if where else ""
    step, notes, retry = dict(data), [], {}
    for old, current in OLD_STEP_FIELDS.items():
        if old not in step:
            continue
        value = step.pop(old)
        notes.append(note(f"{prefix}{old}", f"{prefix}{current}"))
        if current.startswith("retry."):
            retry[current.removeprefix("retry.")] = value
        else:
            step.setdefault(current, value)
    if retry:
        given = step.get("retry")
        step["retry"] = {**retry, **given} if isinstance(given, dict) else retry
    config, config_notes = canonical_config(step.get("kind") or "action", step.get("config"), f"{prefix}config")
    if config_notes:
        step["config"] = config
    return step, notes + config_notes


def canonical_definition(data) -> tuple[dict, list[str]]:
    """A whole definition in the current spelling, and every deprecation note (steps[i].field: …)."""
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        return data, []
    steps, notes = [], []
    for index, raw in enumerate(data["steps"]):
        step, found = canonical_step(raw, f"steps[{index}]")
        steps.append(step)
        notes += found
    return ({**data, "steps": steps} if notes else data), notes
