"""Four-eyes activation in a real browser: one editor turns the review on and activates, which only asks; another
editor finds the request under the inbox's Activations tab, reads the diff and approves it, and it goes live."""

import pytest
from django.urls import reverse

from tests.browser.conftest import login, shot
from tests.factories import EditorFactory, log_step, workflow_with_steps
from workflows.models import ActivationRequest, Workflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def editor(username: str):
    user = EditorFactory(username=username, is_staff=True)
    user.set_password(f"pw-{username}-123")
    user.save()
    return user


def test_one_editor_asks_and_another_approves_in_the_admin(live_server, page):
    ann, _ = editor("ann"), editor("bob")
    workflow = workflow_with_steps([log_step("pay_supplier", "paid")], name="Supplier Payouts", owner=ann)
    login(page, live_server.url, "ann", "pw-ann-123")
    page.goto(live_server.url + reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.check("#id_activation_review")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.faos-activate")
    page.wait_for_selector(".messagelist .warning")
    assert "needs a second editor’s approval" in page.inner_text(".messagelist")
    assert page.text_content("#faos-pending-activation").strip() == "v1 awaits approval"
    shot(page, "activation-requested")
    assert Workflow.objects.get(pk=workflow.pk).status == "draft"

    page.context.clear_cookies()
    login(page, live_server.url, "bob", "pw-bob-123")
    page.click("#faos-approvals-link")
    assert page.inner_text("#faos-activations-tab .faos-count") == "1"
    page.click("#faos-activations-tab")
    row = page.locator("#result_list tbody tr").first
    assert "Supplier Payouts v1" in row.inner_text() and "ann" in row.inner_text()
    shot(page, "activations-inbox")
    row.locator("a").first.click()
    assert "pay_supplier" in page.inner_text(".field-changes")  # the diff: every step is new on a first activation
    assert page.is_visible("#replay-report")
    page.fill("#id_comment", "Checked the payee list")
    shot(page, "activation-request")
    page.click("button[value=approve]")
    page.wait_for_selector(".messagelist .success")
    assert "approved" in page.inner_text(".messagelist")

    workflow.refresh_from_db()
    request = ActivationRequest.objects.get()
    assert workflow.status == "active" and workflow.active_version == request.version
    assert (request.requested_by, request.decided_by.username) == (ann, "bob")
    page.goto(live_server.url + reverse("admin:workflows_workflow_history", args=[workflow.pk]))
    history = page.inner_text("#change-history")
    assert "Activation of v1 requested." in history
    assert "Activation of v1 (requested by ann) approved by bob: Checked the payee list." in history
