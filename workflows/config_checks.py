"""Config checks shared by the admin forms and the API: a step's config against its kind's schema (and an
action's inputs against its input schema), a trigger's against its kind's; each problem names its field."""

import re

import jsonschema

from executions.engine.spelling import canonical_config

TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "empty",
}


def config_errors(kind: str, config: dict) -> list[str]:
    """Each field of a step's config that does not fit its kind's schema or its action's inputs, named."""
    from executions.engine import kinds

    step_kind = kinds.get(kind)
    if step_kind is None:
        return []
    config = canonical_config(kind, config)[0]  # an old spelling is read (the import and the API say so)
    return schema_errors(step_kind.config_schema, config, "config") + _action_errors(kind, config)


def _action_errors(kind: str, config: dict) -> list[str]:
    """An action step's inputs (or an agent's tool inputs) against the action's input_schema."""
    from executions.engine.kinds.agent import AGENT_ACTIONS
    from integrations import actions

    name = config.get("action")
    if kind not in ("action", "agent") or not isinstance(name, str) or not name or name in AGENT_ACTIONS:
        return []
    if "{{" in name:
        return []
    action = actions.get(name)
    if action is None:
        return [f"config.action: unknown action '{name}'"]
    inputs = config.get("input", {})
    return schema_errors(action.input_schema, inputs, "config.input") if isinstance(inputs, dict) else []


def schema_errors(schema: dict, value, prefix: str) -> list[str]:
    """Readable "path: problem" lines; a value holding a {{ }} template is checked only when the run renders it."""
    found: list[str] = []
    for error in jsonschema.Draft202012Validator(schema).iter_errors(value):
        for message in _describe(error, prefix):
            if message not in found:
                found.append(message)
    return found


def _templated(value) -> bool:
    return isinstance(value, str) and "{{" in value


def _path(prefix: str, parts) -> str:
    return prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _describe(error, prefix: str) -> list[str]:
    """One jsonschema error in words, at the path of the field it is about."""
    if _templated(error.instance):
        return []
    path, rule, expected = _path(prefix, error.absolute_path), error.validator, error.validator_value
    if rule == "required":
        match = re.match(r"^'(.+)' is a required property$", error.message)
        return [f"{path}.{match.group(1)}: is required" if match else f"{path}: {error.message}"]
    if rule == "additionalProperties" and expected is False:
        known = error.schema.get("properties", {})
        extra = [k for k in error.instance if k not in known]
        return [f"{path}.{k}: is not a setting here (known: {', '.join(known)})" for k in extra]
    if rule in ("anyOf", "oneOf"):
        return _describe_choice(error, prefix, path)
    return [f"{path}: {_words(rule, expected, error)}"]


def _words(rule: str, expected, error) -> str:
    """The message for a single failed keyword."""
    if rule == "type":
        return "must be " + " or ".join(TYPE_WORDS.get(t, t) for t in _listed(expected))
    if rule == "enum":
        return "must be one of " + ", ".join(str(v) for v in expected)
    if rule == "minLength" and expected == 1:
        return "must not be empty"
    if rule in ("minItems", "minProperties"):
        return f"give at least {expected}"
    if rule in ("minimum", "maximum"):
        return f"must be at {'least' if rule == 'minimum' else 'most'} {expected}"
    if rule == "not" and isinstance(expected, dict) and expected.get("required"):
        return f"use {' or '.join(expected['required'])}, not both"
    if rule == "pattern":
        return f"does not look right (must match {expected})"
    return error.message


def _describe_choice(error, prefix: str, path: str) -> list[str]:
    """anyOf / oneOf: "give a or b" for alternative required fields, else the problems of the branch that fits best."""
    context = error.context or []
    if context and all(e.validator == "required" for e in context):
        names = list(dict.fromkeys(n for e in context for n in e.validator_value if n not in error.instance))
        return [f"{path}.{names[0]}: give {' or '.join(names)}"]
    branches: dict = {}
    for sub in context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [subs for subs in branches.values() if not any(_wrong_type(e) for e in subs)]
    if fitting:
        return [message for sub in fitting[0] for message in _describe(sub, prefix)]
    types = [t for e in context if _wrong_type(e) for t in _listed(e.validator_value)]
    return [f"{path}: must be " + " or ".join(TYPE_WORDS.get(t, t) for t in dict.fromkeys(types))]


def _wrong_type(error) -> bool:
    """The value is not even of the type this branch (or keyword) expects."""
    if error.relative_path:
        return False
    if error.validator == "enum":
        return not any(type(v) is type(error.instance) for v in error.validator_value)
    return error.validator == "type"


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def trigger_problems(kind: str, config) -> dict[str, str]:
    """Field → problem: the shape from the kind's schema first, then (if it fits) what the values mean."""
    from .triggers import config_schema, trigger_config_errors

    found = {}
    for line in schema_errors(config_schema(kind), config, "config"):
        field, _, message = line.partition(": ")
        found.setdefault(field, message.replace(" (known: )", " (this kind has no settings)"))
    return found or trigger_config_errors(kind, config)
