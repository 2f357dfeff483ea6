"""Concurrency in the admin, in a real browser: set a per-customer limit on the workflow page (a bad key is refused
at its field), then a queued run's page says why it waits."""

import pytest
from django.urls import reverse

from executions.models import Execution
from executions.services import execution_start
from tests.browser.conftest import login, shot
from tests.factories import active_workflow, log_step
from workflows.models import Workflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOLD = {"key": "hold", "name": "Hold", "kind": "wait", "config": {"duration": "1h"}}


def open_settings(page) -> None:
    """Unfold the folded sections (Settings among them) of the workflow page."""
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.wait_for_selector("#id_concurrency_limit", state="visible")


def test_a_per_customer_limit_set_in_the_admin_queues_the_second_run_and_its_page_says_why(
    live_server, page, django_user_model
):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
    workflow = active_workflow([HOLD, log_step("done")], name="Per customer")
    login(page, live_server.url, "boss", "pw-boss-123")
    page.goto(live_server.url + reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    open_settings(page)
    page.fill("#id_concurrency_limit", "1")
    page.fill("#id_concurrency_key", "{{vars.customer}}")
    page.click("input[name=_continue]")
    error = page.locator(".field-concurrency_key .errorlist, .errors.field-concurrency_key .errorlist").first
    assert "Only trigger data can be read here, not vars." in error.inner_text()

    open_settings(page)
    page.fill("#id_concurrency_key", "{{trigger.customer.id}}")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    open_settings(page)
    page.locator("#id_concurrency_limit").scroll_into_view_if_needed()
    shot(page, "concurrency-settings", full_page=False)
    workflow.refresh_from_db()
    assert (workflow.concurrency_limit, workflow.concurrency_key) == (1, "{{trigger.customer.id}}")

    first, second = (execution_start(workflow=workflow, input={"customer": {"id": "c1"}}) for _ in range(2))
    assert Execution.objects.get(pk=second.pk).status == "queued"
    page.goto(live_server.url + reverse("admin:executions_execution_change", args=[second.pk]))
    assert page.locator(".faos-badge.faos-queued").inner_text() == "Queued"
    assert "Waiting for a place: 1 run(s) with key 'c1' in flight, the limit is 1" in page.inner_text(
        ".field-concurrency"
    )
    shot(page, "queued-run", full_page=False)
    assert Workflow.objects.get(pk=workflow.pk).executions.count() == 2 and first.pk != second.pk
