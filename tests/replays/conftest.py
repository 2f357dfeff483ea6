"""A refund workflow with past runs (one per path), then a draft that changes it: what the replay tests share."""

import pytest
from django.contrib.auth.models import Group

from executions.approvals import approval_decide
from executions.models import Approval, Execution
from executions.services import execution_start
from tests.factories import EDITORS, UserFactory, log_step, workflow_with_steps
from workflows.models import Step
from workflows.services import workflow_activate


def refund_steps(threshold: int = 100) -> list[dict]:
    """Amount over the threshold asks a manager; a refund e-mail (a side effect: recorded in test runs) follows."""
    return [
        {
            "key": "check_amount",
            "name": "Amount Over Threshold?",
            "kind": "condition",
            "config": {"expression": f"trigger.amount > {threshold}"},
            "branches": {"true": "manager_approval", "false": "process_refund"},
        },
        {
            "key": "manager_approval",
            "name": "Manager Approval",
            "kind": "approval",
            "config": {"title": "Refund {{trigger.amount}}?", "amount": "{{trigger.amount}}", "groups": ["Managers"]},
            "branches": {"on_approved": "process_refund", "on_rejected": "tell_rejected"},
        },
        {
            "key": "process_refund",
            "name": "Process Refund",
            "config": {
                "action": "send_email",
                "input": {"to": "{{trigger.customer}}", "subject": "Refund of {{trigger.amount}}", "body": "Done."},
            },
        },
        log_step("send_confirmation", "refunded {{trigger.amount}}", next_step="end"),
        log_step("tell_rejected", "declined"),
    ]


def decide(execution: Execution, manager, decision: str) -> None:
    approval = Approval.objects.get(execution=execution)
    comment = "no" if decision == "reject" else ""
    approval_decide(approval_id=approval.pk, user=manager, decision=decision, comment=comment)


@pytest.fixture
def refund_history(settings):
    """An active refund workflow and four finished runs: 50 (no approval), 150 and 250 approved, 300 rejected."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    managers = Group.objects.create(name="Managers")
    manager = UserFactory(username="maria", is_staff=True)
    managers.user_set.add(manager)
    editor = UserFactory(username="eddie", is_staff=True, roles=[EDITORS])
    workflow = workflow_with_steps(refund_steps(), owner=editor)
    workflow_activate(workflow=workflow)
    workflow.refresh_from_db()
    runs = {}
    for amount, decision in ((50, None), (150, "approve"), (250, "approve"), (300, "reject")):
        run = execution_start(workflow=workflow, input={"amount": amount, "customer": "ann@example.com"})
        if decision:
            decide(run, manager, decision)
        run.refresh_from_db()
        assert run.status == "succeeded", (amount, run.error)
        runs[amount] = run
    return workflow, editor, runs


def set_threshold(workflow, threshold: int) -> None:
    """The draft's change: a different threshold for asking a manager."""
    Step.objects.filter(workflow=workflow, key="check_amount").update(
        config={"expression": f"trigger.amount > {threshold}"}
    )
