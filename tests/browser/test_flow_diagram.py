"""The flow diagram in a real browser: every step of a template-made workflow is a visible node, nothing overlaps,
names fit their boxes, and it reads in dark mode too. Saves the screenshot the docs use."""

import pytest
from django.urls import reverse

from tests.browser.conftest import ARTIFACTS, login, shot
from workflows.library import template_use, templates_load
from workflows.models import WorkflowTemplate
from workflows.services import workflow_snapshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_SHOT = ARTIFACTS / "flow-diagram-docs.png"  # copied into docs/screenshots by hand when it changes
BOXES = """els => els.map(g => {
  const shape = g.querySelector('.fd-shape').getBBox();
  const names = [...g.querySelectorAll('.fd-name, .fd-kind')].map(t => t.getComputedTextLength());
  return {key: g.dataset.key || g.dataset.join || 'trigger', x: shape.x, y: shape.y, w: shape.width,
          h: shape.height, text: Math.max(0, ...names)};
})"""
LABELS = "els => els.map(t => { const b = t.getBBox(); return [t.textContent, b.x, b.y, b.width, b.height]; })"


def overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_every_step_is_a_visible_node_and_nothing_overlaps(live_server, page, django_user_model):
    django_user_model.objects.create_superuser("owner", "owner@example.com", "pw-owner-123")
    templates_load()
    workflow = template_use(template=WorkflowTemplate.objects.get(slug="bank-transfer-wait-retry"))
    login(page, live_server.url, "owner", "pw-owner-123")
    page.goto(live_server.url + reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    page.wait_for_selector(".faos-flow svg")

    for key in workflow.steps.values_list("key", flat=True):
        node = page.locator(f'.faos-flow [data-key="{key}"]')
        assert node.count() == 1 and node.is_visible(), key
    assert page.locator(".faos-flow path.fd-back[data-from=wait_more][data-to=check_status]").count() == 1

    nodes = page.eval_on_selector_all(".faos-flow g.fd-node", BOXES)
    for node in nodes:
        assert node["text"] <= node["w"] - 20, f"{node['key']}: its text overflows its box"
    rects = [(n["x"], n["y"], n["w"], n["h"]) for n in nodes]
    labels = page.eval_on_selector_all(".faos-flow text.fd-label", LABELS)
    for i, a in enumerate(rects):
        assert not any(overlap(a, b) for b in rects[i + 1 :]), nodes[i]["key"]
        assert not any(overlap(a, label[1:]) for label in labels), nodes[i]["key"]
    shot(page, "flow-diagram-page")

    right = page.eval_on_selector(".faos-flow", "box => box.getBoundingClientRect().left + Number(box.dataset.width)")
    page.set_viewport_size({"width": int(right) + 60, "height": 900})  # the whole diagram at 100%, unscrolled
    page.click(".faos-flow-tools button:has-text('Fit')")
    assert page.get_attribute(".faos-flow", "data-scale") == "1.000"
    page.locator(".faos-flow-module").screenshot(path=str(DOCS_SHOT))
    page.emulate_media(color_scheme="dark")
    page.locator(".faos-flow-module").screenshot(path=str(ARTIFACTS / "flow-diagram-dark.png"))

    version = workflow_snapshot(workflow=workflow)
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + reverse("admin:workflows_workflowversion_change", args=[version.pk]))
    assert page.locator('.faos-flow [data-key="wait_more"]').is_visible()
    shot(page, "flow-diagram-version")
