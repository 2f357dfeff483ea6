"""A manager approves a refund from the inbox in a real browser, and the run goes on to the refund step."""

import pytest
from django.contrib.auth.models import Group

from executions.models import Execution
from executions.services import execution_start
from tests.browser.conftest import login, shot
from tests.e2e.conftest import wait_for
from tests.factories import workflow_with_steps
from workflows.services import workflow_activate

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_manager_approves_a_refund_in_the_browser(live_server, start_worker, page, django_user_model):
    managers = Group.objects.create(name="Managers")
    maria = django_user_model.objects.create_user("maria", "maria@example.com", "pw-maria-123", is_staff=True)
    managers.user_set.add(maria)
    workflow = workflow_with_steps(
        [
            {
                "key": "check_amount",
                "name": "Amount Over $100?",
                "kind": "condition",
                "config": {"expression": "trigger.amount > 100"},
                "branches": {"true": "manager_approval", "false": "process_refund"},
            },
            {
                "key": "manager_approval",
                "name": "Manager Approval",
                "kind": "approval",
                "config": {
                    "title": "Refund for {{trigger.customer}}",
                    "amount": "{{trigger.amount}}",
                    "currency": "USD",
                    "details": "Reason: {{trigger.reason}}",
                    "groups": ["Managers"],
                },
                "branches": {"on_approved": "process_refund", "on_rejected": "tell_customer"},
            },
            {
                "key": "process_refund",
                "name": "Process Refund",
                "config": {"action": "log", "inputs": {"message": "refund"}},
            },
            {
                "key": "tell_customer",
                "name": "Tell Customer",
                "config": {"action": "log", "inputs": {"message": "sent"}},
            },
        ]
    )
    workflow_activate(workflow=workflow)
    start_worker()
    execution = execution_start(
        workflow=workflow, input={"amount": 249.5, "customer": "ann@example.com", "reason": "broken"}
    )
    wait_for(lambda: Execution.objects.get(pk=execution.pk).status == "waiting", message="the run to wait for approval")

    login(page, live_server.url, "maria", "pw-maria-123")
    assert page.inner_text("#faos-approvals-link .faos-count") == "1"
    page.click("#faos-approvals-link")
    row = page.locator("#result_list tbody tr").first
    assert "Refund for ann@example.com" in row.inner_text() and "249.50 USD" in row.inner_text()
    shot(page, "approvals-inbox")
    row.locator("a").first.click()
    page.fill("#id_comment", "Customer is right")
    shot(page, "approval-detail")
    page.click("button[value=approve]")
    page.wait_for_selector(".messagelist .success")
    assert "approved" in page.inner_text(".messagelist")

    def finished():
        run = Execution.objects.get(pk=execution.pk)
        return run if run.is_finished else None

    run = wait_for(finished, timeout=60, message="the run to finish after approval")
    assert run.status == "succeeded"
    assert list(run.step_runs.order_by("id").values_list("step_key", flat=True))[-2:] == [
        "process_refund",
        "tell_customer",
    ]
    decision = run.step_runs.get(step_key="manager_approval").output
    assert decision["deciders"] == ["maria"] and decision["comment"] == "Customer is right"
