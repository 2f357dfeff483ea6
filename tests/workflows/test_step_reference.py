"""The step reference (docs/steps.md, the admin page, the API schema) comes from the kinds' and actions' schemas."""

import pytest
from django.core.management import CommandError, call_command

from executions.engine import kinds, validation
from executions.engine.definition import Definition
from integrations import actions
from workflows.config_checks import config_errors
from workflows.step_reference import missing_examples, reference_markdown

STUB = {"kind": "action", "config": {"action": "log", "input": {"message": "stub"}}}


def referenced_keys(step: dict) -> list[str]:
    """The steps an example points to (branch targets, loop body, parallel branches): the test adds them as stubs."""
    config = step.get("config") or {}
    keys = list((step.get("branches") or {}).values()) + list(config.get("steps") or [])
    for lane in config.get("branches") or [] if step["kind"] == "parallel" else []:
        keys += lane if isinstance(lane, list) else [lane]
    return list(dict.fromkeys(keys))


@pytest.fixture
def connections_exist(monkeypatch):
    """Connector examples name no connection: the validator's "add a connection first" is about the setup, not them."""
    monkeypatch.setattr(actions, "_has_connection", lambda service, name: True)


def test_every_kind_and_action_has_an_example_and_an_entry_in_the_reference():
    text = reference_markdown()
    assert missing_examples() == []
    assert all(f"### `{name}` — " in text for name in kinds.names())
    assert all(f"### `{action.name}` — " in text for action in actions.all_actions())


def test_a_kind_without_an_example_is_reported(monkeypatch):
    class Bare(kinds.StepKind):
        name, label = "bare", "Bare"

    kinds.names()  # load the registry before adding to it
    monkeypatch.setitem(kinds._REGISTRY, "bare", Bare())
    assert missing_examples() == ["kind bare"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", kinds.names())
def test_each_kind_example_fits_its_schema_and_passes_the_definition_validator(name, connections_exist):
    example = {**kinds.get(name).example, "kind": name}
    assert config_errors(name, example["config"]) == []
    stubs = [{**STUB, "key": key, "name": key} for key in referenced_keys(example)]
    definition = Definition.from_dict({"name": "Example", "steps": [example, *stubs]})
    assert validation.validate(definition, check_action=actions.check_step) == []


@pytest.mark.django_db
@pytest.mark.parametrize("name", [a.name for a in actions.all_actions()])
def test_each_action_example_fits_its_inputs_and_passes_the_definition_validator(name, connections_exist):
    config = {"action": name, "input": actions.get(name).example}
    assert config_errors("action", config) == []
    step = {"key": "use_it", "name": "Use it", "kind": "action", "config": config}
    assert validation.validate(Definition.from_dict({"steps": [step]}), check_action=actions.check_step) == []


def test_docs_steps_md_is_up_to_date():
    call_command("step_reference", "--check")  # raises CommandError when a kind or action changed without it


def test_the_check_fails_on_a_stale_file_and_passes_once_regenerated(tmp_path):
    target = tmp_path / "steps.md"
    target.write_text("# Step reference\n\nwritten by hand\n")
    with pytest.raises(CommandError, match="out of date"):
        call_command("step_reference", "--check", "--output", str(target))
    call_command("step_reference", "--output", str(target))
    call_command("step_reference", "--check", "--output", str(target))
    assert "### `wait_for_event` — Wait for event" in target.read_text()


def test_the_reference_names_types_requirements_defaults_and_branches():
    text = reference_markdown()
    assert '| `mode` | one of sequential, parallel | no | `"sequential"` |' in text
    assert "| `approvers` | list of text | one of approvers / groups |" in text
    assert "| `labels` | list of text | when action is classify |" in text
    assert "Branches: `on_approved`, `on_rejected`, `on_expired`." in text
    assert "| `retry_max_attempts` | `retry.max_attempts` |" in text  # the old spellings, marked deprecated


@pytest.mark.django_db
def test_the_admin_shows_the_reference_to_viewers_and_links_it_from_the_step_editor(client):
    from django.urls import reverse

    from tests.factories import VIEWERS, EditorFactory, UserFactory, workflow_with_steps

    url = reverse("admin:workflows_workflow_step_reference")
    client.force_login(UserFactory(username="reader", is_staff=True, roles=[VIEWERS]))
    page = client.get(url).content.decode()
    assert "<code>wait_for_event</code> — Wait for event" in page and 'id="action-slack.post_message"' in page
    assert "config.inputs (action)" in page and "key: each_invoice" in page  # old spellings; the loop's example
    client.force_login(UserFactory(username="no_role", is_staff=True))
    assert client.get(url).status_code == 403
    editor = EditorFactory(username="builder", is_staff=True)
    workflow = workflow_with_steps([{"key": "hello", "name": "Hello"}], owner=editor)
    client.force_login(editor)
    for editor_page in (
        reverse("admin:workflows_workflow_change", args=[workflow.pk]),
        reverse("admin:workflows_workflow_add"),
    ):
        assert f'href="{url}"' in client.get(editor_page).content.decode()
