"""A refund workflow with past runs (one per path), then a draft that changes it: what the replay tests share."""

import pytest
from django.contrib.auth.models import Group

from executions.approvals import approval_decide
from executions.models import Approval, Execution
from executions.services import execution_start
from tests.factories import EDITORS, UserFactory, workflow_with_steps
from workflows.services import workflow_activate

from .factories import refund_steps


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
