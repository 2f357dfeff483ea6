"""Step config schemas (one per kind) and the admin form that checks a step's config against them."""

import importlib
import inspect
import json
import re

import jsonschema
import pytest
from django.urls import reverse

from executions.engine import kinds
from integrations import actions
from tests.factories import workflow_with_steps
from workflows.admin.forms import StepInlineForm
from workflows.config_checks import config_errors
from workflows.library import template_files
from workflows.models import Agent

# one config per kind with a value of the wrong type, and the field the error must name
WRONG_TYPE = {
    "action": ({"action": 5}, "config.action"),
    "agent": ({"agent": "A", "action": "classify", "labels": "low, high"}, "config.labels"),
    "approval": ({"title": "Refund?", "groups": ["Managers"], "required": "two"}, "config.required"),
    "complete": ({"outputs": {"ok": True}}, "config.outputs"),  # output takes any JSON: a misspelt key instead
    "condition": ({"expression": 5}, "config.expression"),
    "fail": ({"message": ["declined"]}, "config.message"),
    "loop": ({"items": "{{trigger.items}}", "steps": "check"}, "config.steps"),
    "parallel": ({"branches": [["a"], ["b"]], "join": 2.5}, "config.join"),
    "sub_workflow": ({"workflow": "Invoice Collection", "wait": "yes"}, "config.wait"),
    "switch": ({"value": {"label": "hot"}}, "config.value"),
    "task": ({"title": "Call", "group": "Sales", "checklist": "call, write"}, "config.checklist"),
    "wait": ({"duration": ["3d"]}, "config.duration"),
    "wait_for_event": ({"event": "invoice.paid", "timeout": {"days": 3}}, "config.timeout"),
}
READ = re.compile(r"""config(?:\.get\(|\[)\s*"([a-z_]+)\"""")


def template_steps():
    from workflows.io import parse

    for path in template_files():
        for step in parse(path.read_text())["steps"]:
            yield pytest.param(step, id=f"{path.stem}.{step['key']}")


def test_the_base_kind_takes_any_object_and_every_kind_has_a_valid_schema():
    assert kinds.StepKind.config_schema == {"type": "object"}
    for name in kinds.names():
        schema = kinds.get(name).config_schema
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object" and schema["properties"], name
        for field, spec in schema["properties"].items():
            assert spec.get("title") and spec.get("description"), f"{name}.{field} needs a title and help text"


@pytest.mark.parametrize("name", sorted(WRONG_TYPE))
def test_every_field_the_kind_reads_is_in_its_schema(name):
    source = inspect.getsource(importlib.import_module(f"executions.engine.kinds.{name}"))
    read = set(READ.findall(source))
    assert read and read <= set(kinds.get(name).config_schema["properties"]), read


def test_every_kind_has_a_wrong_type_case():
    assert sorted(WRONG_TYPE) == kinds.names()


@pytest.mark.parametrize("step", template_steps())
def test_every_template_step_fits_its_kinds_schema(step):
    schema = kinds.get(step.get("kind", "action")).config_schema
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(step.get("config") or {})]
    assert errors == []
    assert config_errors(step.get("kind", "action"), step.get("config") or {}) == []


@pytest.mark.parametrize("name", sorted(WRONG_TYPE))
def test_a_wrong_type_names_the_field(name):
    config, field = WRONG_TYPE[name]
    errors = config_errors(name, config)
    assert errors and any(e.startswith(f"{field}: ") for e in errors), errors


def test_every_action_schema_is_valid():
    for action in actions.all_actions():
        jsonschema.Draft202012Validator.check_schema(action.input_schema)


@pytest.mark.parametrize(
    ("kind", "config", "expected"),
    [
        ("action", {"action": "send_email", "input": {"subject": "Hi", "body": "."}}, "config.input.to: is required"),
        ("action", {"action": "send_email", "input": {"to": "bob", "subject": "Hi", "body": "."}}, "config.input.to"),
        ("action", {"action": "nope"}, "config.action: unknown action 'nope'"),
        ("action", {"action": "create_task", "input": {"title": "Call"}}, "config.input.assignee: give assignee"),
        ("agent", {"agent": "A", "action": "send_email", "input": {"to": "a@b.co"}}, "config.input.subject"),
        ("agent", {"agent": "A", "action": "score"}, "config.thresholds: is required"),
        ("condition", {"expresion": "x > 1"}, "config.expresion: is not a setting here"),
        ("wait", {}, "config.duration: give duration or seconds or until"),
        ("loop", {"items": "{{x}}", "steps": ["a"], "mode": "fast"}, "config.mode: must be one of sequential"),
    ],
)
def test_errors_name_the_field(kind, config, expected):
    assert any(e.startswith(expected) for e in config_errors(kind, config)), config_errors(kind, config)


def test_templated_values_are_left_to_the_run():
    inputs = {"to": "{{trigger.customer.email}}", "subject": "Hi", "body": "Hello"}
    assert config_errors("action", {"action": "send_email", "input": inputs}) == []
    assert config_errors("loop", {"items": "{{x}}", "steps": ["a"], "concurrency": "{{vars.n}}"}) == []


def form_data(**config_and_kind) -> dict:
    data = {"position": 0, "key": "mail", "name": "Send Mail", "kind": "action", "branches": "{}", "on_error": "stop"}
    data |= {"retry_max_attempts": 3, "retry_initial_delay": 1, "retry_multiplier": 2, "retry_max_delay": 300}
    return data | {k: json.dumps(v) if k == "config" else v for k, v in config_and_kind.items()}


def test_the_form_rejects_a_missing_action_input_and_accepts_a_complete_one():
    form = StepInlineForm(data=form_data(config={"action": "send_email", "input": {"subject": "Hi", "body": "."}}))
    assert not form.is_valid()
    assert "config.input.to: is required" in form.errors["config"]
    inputs = {"to": "{{trigger.email}}", "subject": "Hi", "body": "."}
    assert StepInlineForm(data=form_data(config={"action": "send_email", "input": inputs})).is_valid()


def test_the_kind_is_a_select_of_every_kind_that_keeps_an_unknown_one():
    choices = dict(StepInlineForm().fields["kind"].widget.choices)
    assert set(choices) == set(kinds.names()) and "Condition" in choices["condition"]
    legacy = StepInlineForm(initial={"kind": "teleport"}).fields["kind"].widget.choices
    assert ("teleport", "teleport (unknown kind)") in legacy


@pytest.fixture
def client_in(client, admin_user):
    client.force_login(admin_user)
    return client


STEPS = [{"key": "mail", "name": "Send Mail", "config": {"action": "log", "inputs": {"message": "hi"}}}]


def admin_post(workflow, config) -> dict:
    step = workflow.steps.get()
    data = {"name": workflow.name, "timeout_seconds": 300, "on_failure": "nothing", "sample_input": "{}"}
    data["concurrency_overflow"] = "queue"
    for prefix, total, initial in (("steps", 1, 1), ("triggers", 0, 0), ("versions", 0, 0)):
        data |= {f"{prefix}-TOTAL_FORMS": total, f"{prefix}-INITIAL_FORMS": initial, f"{prefix}-MIN_NUM_FORMS": 0}
        data[f"{prefix}-MAX_NUM_FORMS"] = 1000
    data |= {f"steps-0-{k}": v for k, v in form_data(config=config).items()}
    return data | {"steps-0-id": step.pk, "steps-0-workflow": workflow.pk, "_continue": "1"}


@pytest.mark.django_db
def test_the_admin_shows_the_error_inline_and_keeps_the_step(client_in):
    workflow = workflow_with_steps(STEPS)
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    bad = {"action": "send_email", "input": {"subject": "Hi", "body": "."}}
    page = client_in.post(url, admin_post(workflow, bad)).content.decode()
    assert "config.input.to: is required" in page and "errorlist" in page
    assert workflow.steps.get().config["action"] == "log"
    good = {"action": "send_email", "input": {"to": "ada@example.com", "subject": "Hi", "body": "."}}
    assert client_in.post(url, admin_post(workflow, good)).status_code == 302
    assert workflow.steps.get().config == good


@pytest.mark.django_db
def test_the_page_carries_the_editor_data_once(client_in):
    Agent.objects.create(name="Support Agent", allowed_actions=["classify", "send_email"])
    workflow = workflow_with_steps([*STEPS, {"key": "done", "name": "Done", "kind": "complete", "config": {}}])
    page = client_in.get(reverse("admin:workflows_workflow_change", args=[workflow.pk])).content.decode()
    assert page.count('id="faos-step-editor-data"') == 1 and "faos/step_editor.js" in page
    raw = re.search(r'id="faos-step-editor-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    data = json.loads(raw)
    assert data["stepKeys"] == ["mail", "done"]
    assert data["agents"] == [{"name": "Support Agent", "allowed": ["classify", "send_email"]}]
    assert data["kinds"]["condition"]["schema"]["required"] == ["expression"]
    assert data["actions"][0]["category"] == "Built-in"
    assert "send_email" in [a["name"] for a in data["actions"][0]["actions"]]
