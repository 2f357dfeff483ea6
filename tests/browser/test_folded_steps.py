"""Folded steps in a real browser: a saved step's form loads when it opens and edits through the schema form; a folded
step moves without opening; a validation error on a step nobody opened lands on it, open, with the field marked."""

import pytest
from django.urls import reverse

from tests.browser.conftest import login, shot
from tests.factories import log_step, workflow_with_steps
from workflows.models import Step

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STEPS = [
    log_step("greet", "Hi {{trigger.name}}", retry_max_attempts=5),
    log_step("notify", "notify"),
    {"key": "vip", "name": "Is VIP", "kind": "condition", "config": {"expression": "trigger.vip"}},
]


def field(page, row: str, path: str):
    return page.locator(f'#{row} [data-path="{path}"]').locator("input, textarea, select").first


@pytest.fixture
def opened(live_server, page, django_user_model):
    """The workflow page of a three-step workflow, signed in as its editor."""
    django_user_model.objects.create_superuser("owner", "owner@example.com", "pw-owner-123")
    workflow = workflow_with_steps(STEPS, name="Folded Steps")
    login(page, live_server.url, "owner", "pw-owner-123")
    page.goto(live_server.url + reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    page.wait_for_selector("#steps-2 .faos-step-toggle")
    return workflow


def test_a_folded_step_loads_its_form_when_opened_and_saves_what_was_edited(page, opened):
    workflow = opened
    assert page.locator("#steps-group .faos-lazy").count() == 3
    assert page.locator("input[name='steps-1-key']").count() == 0, "a folded step carries no form"
    page.click("#steps-1 h3 .inline_label")
    message = field(page, "steps-1", "input.message")
    assert message.input_value() == "notify"  # waits for the form; the schema form is built on it
    assert page.locator("#steps-1").evaluate("row => !row.classList.contains('faos-lazy')")
    message.fill("Tell {{trigger.name}}")
    page.fill("input[name='steps-1-name']", "Notify Team")
    page.click("#steps-2 .faos-move-up")  # still folded: it swaps places with the opened step
    assert page.locator("#steps-2").evaluate("row => row.classList.contains('faos-lazy')")
    shot(page, "folded-steps-edited")
    page.click('input[name="_continue"]')
    page.wait_for_selector(".messagelist .success")

    steps = {s.key: s for s in workflow.steps.all()}
    assert steps["notify"].name == "Notify Team"
    assert steps["notify"].config == {"action": "log", "input": {"message": "Tell {{trigger.name}}"}}
    assert [s.key for s in workflow.steps.order_by("position")] == ["greet", "vip", "notify"]
    assert steps["vip"].config == {"expression": "trigger.vip"} and steps["greet"].retry_max_attempts == 5
    assert page.locator("#steps-group .faos-lazy").count() == 3, "after saving, every step is folded again"


def test_an_error_on_a_step_nobody_opened_lands_on_it_open(page, opened):
    workflow = opened
    Step.objects.filter(workflow=workflow, key="vip").update(config={"expression": ""})  # saved before a rule
    page.click("#steps-0 h3 .inline_label")
    page.fill("input[name='steps-0-name']", "Greet Everyone")
    page.click('input[name="_continue"]')
    page.wait_for_selector(".errornote")

    vip = page.locator("#steps-2")
    assert vip.evaluate("row => !row.classList.contains('faos-folded') && !row.classList.contains('faos-lazy')")
    assert "config.expression" in vip.locator(".errorlist").first.inner_text()
    assert vip.locator('[data-path="expression"].faos-invalid').count() == 1, "the schema form marks the field"
    assert page.locator("#steps-1").evaluate("row => row.classList.contains('faos-lazy')"), "untouched: folded"
    assert page.locator("input[name='steps-0-name']").input_value() == "Greet Everyone", "the edit is kept"
    shot(page, "folded-steps-error")

    field(page, "steps-2", "expression").fill("trigger.plan == 'vip'")
    page.click('input[name="_continue"]')
    page.wait_for_selector(".messagelist .success")
    steps = {s.key: s for s in workflow.steps.all()}
    assert steps["greet"].name == "Greet Everyone" and steps["vip"].config == {"expression": "trigger.plan == 'vip'"}
    assert steps["notify"].config == {"action": "log", "inputs": {"message": "notify"}}, "never opened, never saved"
