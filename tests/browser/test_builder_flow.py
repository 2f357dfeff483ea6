"""A new user in a real browser: pick a template, see a validation error, fix it, connect Stripe, activate,
test-run it and watch the run page reach success, retry a failed run from the failed step, read the dashboard."""

import pytest

from executions.models import Execution
from tests.browser.conftest import connect, goto, login, open_steps, shot, wait_for_focus
from workflows.library import templates_load
from workflows.models import Workflow

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_template_to_test_run_to_dashboard(live_server, start_worker, page, fake_server, django_user_model, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    django_user_model.objects.create_superuser("owner", "owner@example.com", "pw-owner-123")
    templates_load()
    start_worker()
    login(page, live_server.url, "owner", "pw-owner-123")

    page.goto(f"{live_server.url}/admin/workflows/workflowtemplate/")
    card = page.locator('[data-template="refund-approval"]')
    assert "Refund Approval" in card.inner_text()
    shot(page, "gallery")
    card.locator("button", has_text="Use template").click()
    page.wait_for_selector(".messagelist .success")
    workflow = Workflow.objects.get(template_slug="refund-approval")

    # break a step's routing and see the validation error naming the step and field
    open_steps(page)
    page.fill('input[name="steps-4-next_step"]', "nowhere")
    page.click('input[name="_continue"]')
    page.wait_for_selector(".messagelist")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.faos-activate")
    errors = page.inner_text(".messagelist")
    assert "next: goes to 'nowhere'" in errors and "Not activated" in errors
    shot(page, "validation-error")
    page.click(".messagelist a.faos-problem-link:has-text(', next')")  # the error's link opens the step at the field
    wait_for_focus(page, "steps-4-next_step")
    page.fill('input[name="steps-4-next_step"]', "end")
    page.click('input[name="_continue"]')
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.faos-activate")
    assert "no stripe connection (any) yet" in page.inner_text(".messagelist")  # named before any run needs it

    # connect Stripe (pointed at a local fake), then activation goes through
    fake_server.route("GET", "/v1/balance", body={"object": "balance", "available": []})
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    connect(page, live_server.url, "stripe", {"secret_key": "sk_test_builder_123456", "base_url": fake_server.url})
    page.goto(f"{live_server.url}/admin/workflows/workflow/{workflow.pk}/change/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.faos-activate")
    assert "Activated version" in page.inner_text(".messagelist")

    # a test run with the sample input: the run page refreshes itself until the run succeeds
    page.click("a.faos-run")
    page.check("#id_test_run")
    page.check("#id_fast_forward")  # off by default for a live workflow: its runs wait for real
    page.click('input[name="_run"]')
    page.wait_for_selector("table.faos-timeline")
    page.wait_for_function(
        "document.querySelector('.faos-badge.faos-succeeded') !== null && document.title.includes('Run')", timeout=60000
    )
    page.wait_for_selector("text=Succeeded", timeout=60000)
    shot(page, "test-run")
    run = Execution.objects.filter(workflow=workflow).latest("id")
    assert run.is_test and run.status in ("succeeded", "running", "waiting")

    # a failed run, retried from the failed step on the active version
    workflow.refresh_from_db()
    failed = Execution.objects.create(
        workflow=workflow,
        version=workflow.active_version,
        input=run.input,
        status="failed",
        error="step 'process_refund' failed: boom",
        error_step="process_refund",
    )
    goto(page, f"{live_server.url}/admin/executions/execution/{failed.pk}/change/")  # the test run's page may reload
    page.click("button[value=retry]")
    page.wait_for_selector(".messagelist .success")
    assert f"retry of #{failed.pk}" in page.inner_text(".messagelist")

    page.goto(f"{live_server.url}/admin/dashboard/")
    assert "success rate" in page.inner_text("body").lower() and workflow.name in page.inner_text("body")
    shot(page, "dashboard")
