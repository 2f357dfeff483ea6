"""Retry a failed run from the failed step, on its version or the active one; re-run with the same input."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from executions.models import Execution
from executions.services import execution_retry, execution_start
from tests.factories import workflow_with_steps
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)

STEPS = [
    {"key": "prepare", "name": "Prepare", "config": {"action": "set", "inputs": {"greeting": "hi"}}},
    {"key": "charge", "name": "Charge", "config": {"action": "log", "inputs": {"message": "{{trigger.card}}"}}},
    {
        "key": "confirm",
        "name": "Confirm",
        "config": {"action": "log", "inputs": {"message": "{{vars.greeting}} {{charge.result.message}}"}},
    },
]


def failed_run():
    workflow = workflow_with_steps(STEPS)
    workflow_activate(workflow=workflow)
    workflow.refresh_from_db()
    execution = execution_start(workflow=workflow, input={})  # no card: "charge" fails
    execution.refresh_from_db()
    assert execution.status == "failed" and execution.error_step == "charge"
    return workflow, execution


def test_retry_from_the_failed_step_reuses_earlier_results_on_the_same_version():
    workflow, failed = failed_run()
    failed.input = {"card": "visa"}  # the operator fixed the data the trigger sent
    failed.save(update_fields=["input"])
    retry = execution_retry(execution=failed)
    retry.refresh_from_db()
    assert retry.status == "succeeded" and retry.retry_of_id == failed.pk and retry.version_id == failed.version_id
    rows = list(retry.step_runs.order_by("id").values_list("step_key", "error_detail"))
    assert rows[0] == ("prepare", {"reused_from_step_run": failed.step_runs.get(step_key="prepare").pk})
    assert [k for k, _ in rows] == ["prepare", "charge", "confirm"]
    assert retry.step_runs.get(step_key="confirm").input == {"message": "hi visa"}


def test_retry_on_the_active_version_runs_the_fixed_definition():
    workflow, failed = failed_run()
    workflow.steps.filter(key="charge").update(
        config={"action": "log", "inputs": {"message": "{{trigger.card ?? 'cash'}}"}}
    )
    v2 = workflow_activate(workflow=workflow)
    retry = execution_retry(execution=failed, on_active_version=True)
    retry.refresh_from_db()
    assert retry.version_id == v2.pk and retry.status == "succeeded"
    assert retry.step_runs.get(step_key="confirm").input == {"message": "hi cash"}


def test_only_failed_runs_can_be_retried():
    workflow = workflow_with_steps(STEPS[:1])
    workflow_activate(workflow=workflow)
    ok = execution_start(workflow=workflow, input={})
    ok.refresh_from_db()
    with pytest.raises(ValidationError, match="only failed runs"):
        execution_retry(execution=ok)


def test_bulk_retry_from_the_admin_reports_each_run(client, admin_user):
    workflow, first = failed_run()
    second = execution_start(workflow=workflow, input={})
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:executions_execution_changelist"),
        {"action": "retry_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert f"retry of #{first.pk}" in page and f"retry of #{second.pk}" in page
    assert Execution.objects.filter(retry_of__in=[first, second]).count() == 2
