"""The config editors: the JSON textarea (the source of truth) plus what step_editor.js and trigger_editor.js
build their forms from (schema_form.js holds what they share)."""

import json

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from faos.json_input import json_parse

DATA_ID = "faos-step-editor-data"
JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}  # as json_script escapes


def kind_choices(current: str | None = None) -> list[tuple[str, str]]:
    """(name, label) of every step kind, plus an unknown current kind so a save never changes it silently."""
    from executions.engine import kinds

    choices = [(name, f"{kinds.get(name).label} ({name})") for name in kinds.names()]
    if current and current not in dict(choices):
        choices.append((current, f"{current} (unknown kind)"))
    return choices


def action_groups() -> list[dict]:
    """Every action's name, label and input schema, grouped by category (built-ins first)."""
    from integrations import actions

    groups: dict[str, list[dict]] = {}
    for action in actions.all_actions():
        groups.setdefault(action.category or "Other", []).append(
            {"name": action.name, "label": action.label or action.name, "schema": action.input_schema}
        )
    order = sorted(groups, key=lambda category: (category != "Built-in", category))
    return [{"category": category, "actions": groups[category]} for category in order]


def _workflow_data(workflow) -> dict:
    """The part of the editor data that changes between pages: the agents and the workflow's step keys."""
    from executions.engine.kinds.agent import AGENT_ACTIONS

    from ..models import Agent

    agents = [{"name": a["name"], "allowed": a["allowed_actions"] or []} for a in Agent.objects.values()]
    keys = list(workflow.steps.values_list("key", flat=True)) if workflow is not None and workflow.pk else []
    return {"agentActions": list(AGENT_ACTIONS), "agents": agents, "stepKeys": keys}


_REGISTERED: dict[tuple, str] = {}  # the JSON of the kinds and actions, by the registered objects it describes


def _registered_json() -> str:
    """The kinds' and actions' part of the editor data as JSON (~50 KB), built again only when they change."""
    from executions.engine import kinds
    from integrations import actions

    registered = (*(id(kinds.get(name)) for name in kinds.names()), None, *map(id, actions.all_actions()))
    if registered not in _REGISTERED:
        described = {}
        for name in kinds.names():
            kind = kinds.get(name)
            described[name] = {"label": kind.label, "schema": kind.config_schema, "branches": list(kind.branch_labels)}
        _REGISTERED.clear()  # one entry: a test that registers an action builds it again, once
        _REGISTERED[registered] = json.dumps({"kinds": described, "actions": action_groups()}, cls=DjangoJSONEncoder)
    return _REGISTERED[registered]


class EditorPage:
    """One page's editor data (kind schemas, actions, agents, the workflow's step keys: everything the editor script
    reads), written into the page by the first config widget that renders."""

    def __init__(self, workflow=None):
        self.workflow = workflow
        self.written = False

    def script(self) -> str:
        """json_script of editor_data, the kinds' and actions' JSON written once per process, not per page."""
        if self.written:
            return ""
        self.written = True
        rest = json.dumps(_workflow_data(self.workflow), cls=DjangoJSONEncoder)
        text = f"{_registered_json()[:-1]}, {rest[1:]}".translate(JSON_SCRIPT_ESCAPES)
        return format_html('<script id="{}" type="application/json">{}</script>', DATA_ID, mark_safe(text))


class JsonTextarea(forms.Textarea):
    """A JSON field's textarea, indented for editing by hand."""

    def format_value(self, value):
        """Indented JSON, easier to edit by hand; text that is not JSON (a rejected edit) stays as typed."""
        try:
            return json.dumps(json_parse(value), indent=2, ensure_ascii=False) if value else value  # strict: no 500
        except (TypeError, ValueError):
            return super().format_value(value)


class StepConfigWidget(JsonTextarea):
    """A step's config as JSON (kept as the fallback); step_editor.js adds a form built from the kind's schema."""

    class Media:
        js = ("faos/schema_form.js", "faos/step_editor.js")

    def __init__(self, page: EditorPage | None = None, attrs: dict | None = None):
        base = {"rows": 6, "cols": 70, "spellcheck": "false", "class": "faos-config-json"}
        super().__init__({**base, **(attrs or {})})
        self.page = page  # shared by the copies Django makes of this widget for each form

    def render(self, name, value, attrs=None, renderer=None):
        textarea = super().render(name, value, attrs, renderer)
        data = self.page.script() if self.page is not None else ""
        return format_html('<div class="faos-step-config" data-faos-config>{}{}</div>', textarea, data)


def trigger_editor_data() -> dict:
    """Each trigger kind's label and config schema, and where the schedule preview asks for the next runs."""
    from ..models import Trigger
    from ..triggers import config_schema

    kinds = {str(kind.value): {"label": kind.label, "schema": config_schema(kind.value)} for kind in Trigger.Kind}
    return {"kinds": kinds, "previewUrl": reverse("admin:workflows_workflow_trigger_preview")}


class TriggerConfigWidget(JsonTextarea):
    """A trigger's config as JSON (the fallback); trigger_editor.js adds a form built from the kind's schema."""

    class Media:
        js = ("faos/schema_form.js", "faos/trigger_editor.js")

    def __init__(self, attrs: dict | None = None):
        base = {"rows": 4, "cols": 70, "spellcheck": "false", "class": "faos-trigger-json"}
        super().__init__({**base, **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        """The textarea in a wrapper carrying the editor's data (small: four schemas), so copied rows keep it."""
        textarea = super().render(name, value, attrs, renderer)
        data = json.dumps(trigger_editor_data(), ensure_ascii=False)
        return format_html('<div class="faos-trigger-config" data-faos-trigger="{}">{}</div>', data, textarea)
