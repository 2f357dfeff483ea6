"""execution_start and friends: bad input, inactive workflows, idempotency, pinned versions."""

import pytest
from django.core.exceptions import ValidationError

from executions.models import Execution, StepRun
from executions.services import execution_rerun, execution_start, steprun_wake
from tests.factories import StepFactory, workflow_with_steps
from workflows.services import WorkflowInvalid, workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)

LOG = {"key": "hello", "name": "Hello", "config": {"action": "log", "inputs": {"message": "v1"}}}


def test_input_that_is_not_an_object_is_refused_naming_the_field():
    workflow = workflow_with_steps([LOG])
    workflow_activate(workflow=workflow)
    with pytest.raises(ValidationError) as exc:
        execution_start(workflow=workflow, input=["not", "an", "object"])
    assert "input" in exc.value.message_dict
    assert Execution.objects.count() == 0


def test_an_inactive_workflow_cannot_start_a_live_run_but_can_test_run_its_draft():
    workflow = workflow_with_steps([LOG])
    with pytest.raises(ValidationError) as exc:
        execution_start(workflow=workflow, input={})
    assert "not active" in str(exc.value)
    execution = execution_start(workflow=workflow, input={}, is_test=True)
    execution.refresh_from_db()
    assert execution.is_test and execution.status == "succeeded"


def test_a_test_run_of_an_invalid_draft_reports_the_problems():
    workflow = workflow_with_steps([{"key": "x", "name": "X", "kind": "teleport", "config": {}}])
    with pytest.raises(WorkflowInvalid) as exc:
        execution_start(workflow=workflow, input={}, is_test=True)
    assert "step 'x', kind: unknown step kind 'teleport'" in str(exc.value.problems[0])


def test_a_test_run_records_side_effects_instead_of_sending(mailoutbox):
    workflow = workflow_with_steps(
        [
            {
                "key": "mail",
                "name": "Mail",
                "config": {"action": "send_email", "inputs": {"to": "a@example.com", "subject": "S", "body": "B"}},
            }
        ]
    )
    execution = execution_start(workflow=workflow, input={}, is_test=True)
    run = execution.step_runs.get()
    assert mailoutbox == []
    assert run.output["test_mode"] is True and run.output["would_send"]["to"] == ["a@example.com"]


def test_the_same_idempotency_key_yields_one_execution():
    workflow = workflow_with_steps([LOG])
    workflow_activate(workflow=workflow)
    first = execution_start(workflow=workflow, input={}, idempotency_key="evt_1")
    again = execution_start(workflow=workflow, input={"other": 1}, idempotency_key="evt_1")
    assert first.pk == again.pk and Execution.objects.count() == 1


def test_editing_the_draft_never_changes_the_version_a_run_pinned():
    workflow = workflow_with_steps([LOG])
    v1 = workflow_activate(workflow=workflow)
    first = execution_start(workflow=workflow, input={})
    workflow.steps.update(config={"action": "log", "inputs": {"message": "v2"}})
    StepFactory(workflow=workflow, position=5, key="extra", name="Extra")
    v2 = workflow_activate(workflow=workflow)
    assert (v1.number, v2.number) == (1, 2)
    first.refresh_from_db()
    assert first.version_id == v1.pk and first.step_runs.get().input == {"message": "v1"}
    rerun = execution_rerun(execution=first)
    assert rerun.version_id == v1.pk and rerun.step_runs.count() == 1


def test_activation_of_an_invalid_workflow_is_refused_and_nothing_changes():
    workflow = workflow_with_steps([{**LOG, "next_step": "nowhere"}])
    with pytest.raises(WorkflowInvalid) as exc:
        workflow_activate(workflow=workflow)
    assert [(p.step, p.field) for p in exc.value.problems] == [("hello", "next")]
    workflow.refresh_from_db()
    assert workflow.status == "draft" and workflow.active_version is None and workflow.versions.count() == 0


def test_unchanged_drafts_reuse_their_version():
    workflow = workflow_with_steps([LOG])
    assert workflow_activate(workflow=workflow).pk == workflow_activate(workflow=workflow).pk


def _parked(waiting_for: str) -> StepRun:
    workflow = workflow_with_steps([LOG])
    version = workflow_activate(workflow=workflow)
    execution = Execution.objects.create(workflow=workflow, version=version, status="waiting")
    return StepRun.objects.create(execution=execution, step_key="hello", step_kind="task", waiting_for=waiting_for)


def test_waking_a_parked_step_makes_it_runnable_once_and_tells_a_worker(monkeypatch):
    told = []
    monkeypatch.setattr("executions.services.enqueue", lambda execution_id, **kwargs: told.append(execution_id))
    step_run = _parked("task")
    assert steprun_wake(step_run_id=step_run.pk, waiting_for="task", output={"done": True})
    assert not steprun_wake(step_run_id=step_run.pk, waiting_for="task")
    step_run.refresh_from_db()
    assert (step_run.status, step_run.waiting_for, step_run.output) == ("pending", "", {"done": True})
    assert step_run.wake_at is not None and step_run.enqueued_at == step_run.wake_at
    assert told == [step_run.execution_id]


def test_a_step_waiting_for_something_else_is_not_woken(monkeypatch):
    told = []
    monkeypatch.setattr("executions.services.enqueue", lambda execution_id, **kwargs: told.append(execution_id))
    step_run = _parked("approval")
    assert not steprun_wake(step_run_id=step_run.pk, waiting_for="task")
    step_run.refresh_from_db()
    assert (step_run.waiting_for, step_run.wake_at, told) == ("approval", None, [])


def test_the_idle_finish_ends_a_run_only_once_none_of_its_steps_is_open(no_tasks):
    from executions.models import Event, OutboxMessage
    from executions.services import execution_finish

    workflow = workflow_with_steps([LOG])
    workflow_activate(workflow=workflow)
    execution = execution_start(workflow=workflow, input={})  # its first step is pending
    told = (Event.objects.count(), OutboxMessage.objects.count())
    assert execution_finish(execution=execution, status="succeeded", unless_active=True) is False
    execution.refresh_from_db()
    assert execution.status != "succeeded" and execution.finished_at is None
    assert (Event.objects.count(), OutboxMessage.objects.count()) == told  # nothing said about an end
    execution.step_runs.update(status=StepRun.Status.SUCCEEDED)
    assert execution_finish(execution=execution, status="succeeded", output={"n": 1}, unless_active=True) is True
    execution.refresh_from_db()
    assert (execution.status, execution.output) == ("succeeded", {"n": 1}) and execution.finished_at is not None
    assert (Event.objects.count(), OutboxMessage.objects.count()) != told  # execution.succeeded is told
