"""Rows the decide-anywhere tests share: an approval waiting for the Managers (maria, tom), requested by ed."""

import re

from django.contrib.auth.models import Group

from executions.models import Approval, Execution, StepRun
from tests.factories import UserFactory
from workflows.models import Workflow
from workflows.services import workflow_activate

LINK = re.compile(r"https?://\S+/decide/[^/\s]+/")


def people():
    """maria and tom decide (the Managers group); ed started the run; eve is nobody's approver."""
    group, _ = Group.objects.get_or_create(name="Managers")
    maria = UserFactory(username="maria", first_name="Maria", last_name="Lopez", is_staff=True)
    tom = UserFactory(username="tom", is_staff=True)
    group.user_set.add(maria, tom)
    ed = UserFactory(username="ed", is_staff=True)
    eve = UserFactory(username="eve", is_staff=True)
    return {"maria": maria, "tom": tom, "ed": ed, "eve": eve, "group": group}


def approval_for(who: dict, *, required: int = 1, requester_in_group: bool = False) -> Approval:
    """A pending approval of a paused run (the run's person is ed), decided by the Managers."""
    workflow = Workflow.objects.create(name="Refunds", owner=who["ed"])
    workflow.steps.create(key="ok", name="OK", config={"action": "log", "inputs": {"message": "hi"}})
    version = workflow_activate(workflow=workflow)
    execution = Execution.objects.create(workflow=workflow, version=version, status="waiting", started_by=who["ed"])
    step_run = StepRun.objects.create(execution=execution, step_key="ok", step_kind="approval", waiting_for="approval")
    approval = Approval.objects.create(
        execution=execution,
        step_run=step_run,
        title="Refund 250 USD to ann@example.com?",
        details="Reason: broken",
        amount=250,
        currency="USD",
        required_approvals=required,
        requested_by=who["ed"],
    )
    approval.approver_groups.add(who["group"])
    if requester_in_group:
        who["group"].user_set.add(who["ed"])
    return approval


def links_in(message) -> dict[str, str]:
    """{"approve": path, "reject": path} (or "complete") from an e-mail, as paths the test client can follow."""
    found = {}
    for line in message.body.splitlines():
        match = LINK.search(line)
        if match:
            name = line.split(":", 1)[0].strip().lower()
            key = {"approve": "approve", "reject (asks for a reason)": "reject", "mark it done": "complete"}.get(name)
            if key:
                found[key] = re.sub(r"^https?://[^/]+", "", match.group(0))
    return found
