"""The workflow page at 1280×800 in a real browser: the flow and the folded steps come first and the page stays short,
a large flow fits the width and zooms and pans, a dismissed activation says nothing changed, and an activation
error's link lands on the step's editor with the field it names focused."""

import pytest
from django.urls import reverse

from tests.browser.conftest import ARTIFACTS, login, wait_for_focus
from tests.factories import log_step, workflow_with_steps
from workflows.library import template_use, templates_load
from workflows.models import WorkflowTemplate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEIGHT_BOUND = 1600  # was 11,813 px for Support Ticket Escalation before the steps folded; 1,072 px after
BEFORE = "([a, b]) => !!(document.querySelector(a).compareDocumentPosition(document.querySelector(b)) & 4)"
NODE_BOX = "key => document.querySelector(`.faos-flow [data-key='${key}'] .fd-shape`).getBoundingClientRect().toJSON()"


def open_page(page, live_server, workflow):
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, live_server.url, "owner", "pw-owner-123")
    page.goto(live_server.url + reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    page.wait_for_selector(".faos-flow.faos-flow-live svg")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_superuser("owner", "owner@example.com", "pw-owner-123")


def test_the_flow_and_folded_steps_come_first_and_the_page_stays_short(live_server, page, owner):
    templates_load()
    workflow = template_use(template=WorkflowTemplate.objects.get(slug="support-ticket-escalation"))
    open_page(page, live_server, workflow)

    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= HEIGHT_BOUND, f"the page is {height} px tall"
    assert page.evaluate(BEFORE, [".faos-flow-module", "#steps-group"])
    assert page.evaluate(BEFORE, ["#steps-group", "#workflow_form fieldset.collapse"])
    assert page.evaluate(BEFORE, ["#steps-group", "#triggers-group"])
    svg = page.locator(".faos-flow svg").bounding_box()
    assert svg["x"] + svg["width"] <= 1280, "the diagram fits the page width"
    assert page.locator("#steps-group .inline-related.faos-step.faos-folded").count() == workflow.steps.count()
    assert page.locator("#triggers-group details").get_attribute("open") is None
    screenshot(page, "workflow-page")

    page.click('.faos-flow [data-key="escalate"]')  # a step in the diagram opens its editor
    row = page.locator("#steps-group .faos-step:not(.faos-folded)")
    assert row.count() == 1 and row.locator("input[name$='-key']").input_value() == "escalate"
    assert row.locator(".field-config").is_visible()


def test_a_large_flow_fits_the_width_and_zooms_and_pans(live_server, page, owner):
    workflow = workflow_with_steps([log_step(f"step_{n:02}") for n in range(30)], name="Thirty Steps")
    open_page(page, live_server, workflow)
    box = page.locator(".faos-flow").bounding_box()
    svg = page.locator(".faos-flow svg").bounding_box()
    assert svg["width"] <= box["width"] and svg["x"] + svg["width"] <= 1280
    assert page.get_attribute(".faos-flow", "data-scale") == "0.500", "a large flow opens readable, at its start"
    assert page.evaluate(NODE_BOX, "step_00")["left"] >= box["x"]
    assert page.evaluate(NODE_BOX, "step_29")["left"] > box["x"] + box["width"]

    page.click(".faos-flow-tools button:has-text('Fit')")
    first, last = page.evaluate(NODE_BOX, "step_00"), page.evaluate(NODE_BOX, "step_29")
    assert first["left"] >= box["x"] and last["right"] <= box["x"] + box["width"], "Fit shows every step"
    fitted = float(page.get_attribute(".faos-flow", "data-scale"))
    assert fitted < 0.5

    page.click(".faos-flow-tools button[title='Zoom in']")
    page.click(".faos-flow-tools button[title='Zoom in']")
    zoomed = float(page.get_attribute(".faos-flow", "data-scale"))
    assert zoomed == pytest.approx(fitted * 1.5625, rel=0.01)
    near = page.evaluate(NODE_BOX, "step_00")
    assert near["width"] == pytest.approx(first["width"] * 1.5625, rel=0.02)

    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*middle)
    page.mouse.down()
    page.mouse.move(middle[0] - 200, middle[1], steps=8)
    page.mouse.up()
    moved = page.evaluate(NODE_BOX, "step_00")
    assert moved["left"] == pytest.approx(near["left"] - 200, abs=3), "dragging pans the flow"
    assert page.locator("#steps-group .faos-step:not(.faos-folded)").count() == 0, "a drag is not a click on a step"
    screenshot(page, "workflow-page-zoomed")

    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    assert float(page.get_attribute(".faos-flow", "data-scale")) > zoomed
    page.click(".faos-flow-tools button:has-text('Fit')")
    assert float(page.get_attribute(".faos-flow", "data-scale")) == pytest.approx(fitted)


def test_a_dismissed_activation_says_that_nothing_changed(live_server, page, owner):
    workflow = workflow_with_steps([log_step("greet")], name="Greeter")
    open_page(page, live_server, workflow)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button.faos-activate")
    said = page.locator(".messagelist li.faos-said")
    assert said.is_visible() and "Not activated: nothing changed" in said.inner_text()
    assert page.url.endswith(f"/{workflow.pk}/change/")
    workflow.refresh_from_db()
    assert workflow.status == "draft" and not workflow.versions.exists()
    screenshot(page, "workflow-activation-dismissed")


def test_an_activation_error_links_to_the_step_editor_with_the_field_focused(live_server, page, owner):
    steps = [
        log_step("greet", next_step="ghost"),
        {"key": "check_vip", "name": "Is VIP", "kind": "condition", "config": {"expression": ""}},
        log_step("done"),
    ]
    workflow = workflow_with_steps(steps, name="Broken Flow")
    open_page(page, live_server, workflow)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.faos-activate")
    page.wait_for_selector(".messagelist a.faos-problem-link")
    assert "Not activated" in page.inner_text(".messagelist")
    assert page.locator("#steps-group h3 .faos-step-problem").count() == 2  # greet and check_vip, folded
    screenshot(page, "workflow-activation-errors")

    page.click(".messagelist a.faos-problem-link:has-text(\"step 'greet', next\")")
    wait_for_focus(page, "steps-0-next_step")  # the folded step's form loads first
    assert page.locator("#steps-0").evaluate("row => !row.classList.contains('faos-folded')")
    assert page.locator("input[name='steps-0-next_step']").is_visible()
    assert "#step=greet&field=next" in page.url

    page.click(".messagelist a.faos-problem-link:has-text(\"step 'check_vip', config.expression\")")
    page.wait_for_function("document.activeElement.closest('#steps-1 [data-path]') !== null")
    focused = page.evaluate("document.activeElement.closest('[data-path]')?.dataset.path")
    assert focused == "expression" and page.evaluate("document.activeElement.closest('#steps-1') !== null")
    screenshot(page, "workflow-activation-error-followed")
