"""The step editor in a real browser: forms built from each kind's schema, the action picker, reordering without
retyping, an inline error naming the field, and the JSON fallback; the saved Step rows are what the forms said."""

import json

import pytest

from tests.browser.conftest import ARTIFACTS, login, open_steps, shot
from tests.factories import workflow_with_steps
from workflows.models import Agent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DOCS = ARTIFACTS / "docs"  # copied into docs/screenshots by hand when it changes
STEPS = [
    {
        "key": "greet",
        "name": "Greet Customer",
        "config": {"action": "log", "inputs": {"message": "Hi {{trigger.name}}"}},
    },
    {"key": "notify", "name": "Notify Customer", "config": {"action": "log", "inputs": {"message": "notify"}}},
    {"key": "done", "name": "Done", "kind": "complete", "config": {"output": {"greeted": "{{trigger.name}}"}}},
]


def field(page, row: str, path: str):
    """The generated input for a config field of one step row."""
    return page.locator(f'#{row} [data-path="{path}"]').locator("input, textarea, select").first


def docs_shot(page):
    """The README's picture: the send_email step and the condition step as the forms show them."""
    top = page.locator("#steps-1").bounding_box()
    bottom = page.locator("#steps-2 .field-config").bounding_box()
    clip = {"x": top["x"], "y": top["y"], "width": top["width"], "height": bottom["y"] + bottom["height"] - top["y"]}
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / "step-editor.png"), clip=clip, full_page=True)


def test_build_a_step_from_forms_reorder_and_save(live_server, page, django_user_model):
    django_user_model.objects.create_superuser("owner", "owner@example.com", "pw-owner-123")
    Agent.objects.create(name="Support Agent", allowed_actions=["classify", "send_email"])
    workflow = workflow_with_steps(STEPS, name="Welcome Customers")
    login(page, live_server.url, "owner", "pw-owner-123")
    page.goto(f"{live_server.url}/admin/workflows/workflow/{workflow.pk}/change/")
    open_steps(page)  # saved steps open folded
    assert page.locator("#steps-0 textarea.faos-config-json").is_hidden()  # the form replaces the raw JSON
    assert field(page, "steps-0", "input.message").input_value() == "Hi {{trigger.name}}"

    # a new condition step, its expression typed into the generated form
    page.click("#steps-group .add-row a")
    page.fill("#steps-3 input[name=steps-3-key]", "is_vip")
    page.fill("#steps-3 input[name=steps-3-name]", "Is VIP Customer")
    page.select_option("#steps-3 select[name=steps-3-kind]", "condition")
    field(page, "steps-3", "expression").fill('trigger.plan == "vip"')
    assert "An expression" in page.inner_text('#steps-3 [data-path="expression"]')

    # the second step becomes send_email, but leave "to" empty first: the save is refused, naming the field
    page.select_option("#steps-1 select#steps-1-cfg-action", "send_email")
    field(page, "steps-1", "input.subject").fill("Welcome, {{trigger.name}}!")
    field(page, "steps-1", "input.body").fill("Hello {{trigger.name}}, welcome aboard.")
    page.click("#steps-3 .faos-move-up")  # is_vip above done, without retyping any position
    page.click('input[name="_continue"]')
    page.wait_for_selector(".errornote")
    assert "config.input.to: is required" in page.inner_text("#steps-1")
    assert page.locator('#steps-1 [data-path="input.to"].faos-invalid').count() == 1
    page.locator("#steps-1").screenshot(path=str(ARTIFACTS / "step-editor-error.png"))

    field(page, "steps-1", "input.to").fill("{{trigger.email}}")
    field(page, "steps-1", "input.cc").fill("team@example.com, boss@example.com")
    page.locator("#steps-1 .faos-json-toggle").click()  # the advanced fallback shows the JSON the form wrote
    raw = json.loads(page.locator("#steps-1 textarea.faos-config-json").input_value())
    assert raw["input"]["cc"] == ["team@example.com", "boss@example.com"]
    page.locator("#steps-1 .faos-json-toggle").click()
    shot(page, "step-editor")
    page.click('input[name="_continue"]')
    page.wait_for_selector(".messagelist .success")
    open_steps(page)
    docs_shot(page)
    page.emulate_media(color_scheme="dark")
    page.locator("#steps-1").screenshot(path=str(ARTIFACTS / "step-editor-dark.png"))

    steps = {s.key: s for s in workflow.steps.all()}
    assert steps["notify"].config == {
        "action": "send_email",
        "input": {
            "to": "{{trigger.email}}",
            "cc": ["team@example.com", "boss@example.com"],
            "subject": "Welcome, {{trigger.name}}!",
            "body": "Hello {{trigger.name}}, welcome aboard.",
        },
    }
    assert steps["is_vip"].kind == "condition" and steps["is_vip"].config == {"expression": 'trigger.plan == "vip"'}
    assert [s.key for s in workflow.steps.order_by("position")] == ["greet", "notify", "is_vip", "done"]
    assert (steps["is_vip"].position, steps["done"].position) == (2, 3)
    shot(page, "step-editor-saved")


def test_the_step_reference_opens_from_the_editor_and_jumps_to_a_kind(live_server, page, django_user_model):
    django_user_model.objects.create_superuser("owner", "owner@example.com", "pw-owner-123")
    workflow = workflow_with_steps(STEPS, name="Welcome Customers")
    login(page, live_server.url, "owner", "pw-owner-123")
    page.goto(f"{live_server.url}/admin/workflows/workflow/{workflow.pk}/change/")
    with page.context.expect_page() as opened:
        page.click(".object-tools a:has-text('Step reference')")
    reference = opened.value
    reference.wait_for_load_state()
    reference.click(".faos-toc a:has-text('wait_for_event')")
    section = reference.locator("#kind-wait_for_event")
    assert "on_event" in section.inner_text() and "key: await_reply" in section.locator("pre").inner_text()
    assert reference.locator("#action-send_email table tr").count() == 8  # the header and seven inputs
    section.screenshot(path=str(ARTIFACTS / "step-reference-kind.png"))  # the whole page is too tall to shoot
