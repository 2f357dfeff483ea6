"""Admin forms for steps: clear errors for keys and JSON fields, and config checked against its kind's schema."""

import re

import jsonschema
from django import forms

from ..models import EDITABLE_STEP_FIELDS, RESERVED_STEP_KEYS, Step, Trigger
from .widgets import StepConfigWidget, TriggerConfigWidget, kind_choices

TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "empty",
}


class StepInlineForm(forms.ModelForm):
    class Meta:
        model = Step
        fields = ("position", *EDITABLE_STEP_FIELDS)
        widgets = {
            "config": StepConfigWidget(),
            "branches": forms.Textarea(attrs={"rows": 2, "cols": 30, "spellcheck": "false"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.initial.get("kind") or self.instance.kind
        self.fields["kind"].widget = forms.Select(choices=kind_choices(current), attrs={"class": "faos-kind"})

    def clean(self):
        cleaned = super().clean()
        kind, config = cleaned.get("kind"), cleaned.get("config")
        if kind and isinstance(config, dict) and "config" not in self.errors:
            for message in config_errors(kind, config):
                self.add_error("config", message)
        return cleaned

    def clean_key(self):
        key = self.cleaned_data["key"]
        if key in RESERVED_STEP_KEYS:
            raise forms.ValidationError(f"'{key}' is a reserved variable name; choose another key.")
        return key

    def clean_kind(self):
        from executions.engine import kinds

        kind = self.cleaned_data["kind"]
        if kinds.get(kind) is None:
            raise forms.ValidationError(f"Unknown step kind '{kind}'. Known kinds: {', '.join(kinds.names())}.")
        return kind

    def clean_config(self):
        config = self.cleaned_data["config"]
        if not isinstance(config, dict):
            raise forms.ValidationError("The config must be a JSON object.")
        return config

    def clean_branches(self):
        branches = self.cleaned_data["branches"]
        if not isinstance(branches, dict):
            raise forms.ValidationError(
                'Branches must be a JSON object, e.g. {"true": "premium", "false": "standard"}.'
            )
        return branches


def config_errors(kind: str, config: dict) -> list[str]:
    """Each field of a step's config that does not fit its kind's schema or its action's inputs, named."""
    from executions.engine import kinds

    step_kind = kinds.get(kind)
    if step_kind is None:
        return []
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
    field = "inputs" if kind == "action" else "input"
    inputs = config.get(field, {})
    return schema_errors(action.input_schema, inputs, f"config.{field}") if isinstance(inputs, dict) else []


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


class TriggerInlineForm(forms.ModelForm):
    """Trigger config is checked against its kind's schema, then for meaning; a new secret is write-only."""

    new_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="New secret",
        help_text="Webhook signing secret or token. Leave empty to keep the current one; it is stored encrypted.",
    )

    class Meta:
        model = Trigger
        fields = ("workflow", "kind", "name", "config", "is_enabled")
        widgets = {"config": TriggerConfigWidget()}

    def clean(self):
        cleaned = super().clean()
        kind, config = cleaned.get("kind"), cleaned.get("config")
        if kind and "config" not in self.errors:
            for field, message in self.problems(kind, {} if config is None else config).items():
                self.add_error("config", f"{field}: {message}")
        return cleaned

    @staticmethod
    def problems(kind: str, config) -> dict[str, str]:
        """Field → problem: the shape from the kind's schema first, then (if it fits) what the values mean."""
        from ..triggers import config_schema, trigger_config_errors

        found = {}
        for line in schema_errors(config_schema(kind), config, "config"):
            field, _, message = line.partition(": ")
            found.setdefault(field, message.replace(" (known: )", " (this kind has no settings)"))
        return found or trigger_config_errors(kind, config)

    def save(self, commit=True):
        trigger = super().save(commit=False)
        if self.cleaned_data.get("new_secret"):
            trigger.secrets = [self.cleaned_data["new_secret"], *(trigger.secrets or [])][:2]  # keep one for rotation
        if commit:
            trigger.save()
        return trigger
