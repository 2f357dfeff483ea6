"""The runtime in-process (tasks eager): step runs, variables, retries, error policies, sweep recovery."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from executions import runtime
from executions.engine.definition import Definition
from executions.engine.outcome import Outcome
from executions.models import Execution, StepRun
from executions.runtime.run import attempt
from executions.runtime.sweep import sweep
from executions.services import execution_cancel, execution_start
from tests.factories import active_workflow as active
from tests.factories import log_step as log
from tests.vendor import postgresql_only

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_linear_run_succeeds_and_records_rendered_inputs():
    workflow = active([log("first", "Hello {{trigger.name}}"), log("second", "{{first.result.message}} again")])
    execution = execution_start(workflow=workflow, input={"name": "Ada"})
    execution.refresh_from_db()
    assert execution.status == "succeeded" and execution.finished_at and execution.duration_ms is not None
    runs = list(execution.step_runs.order_by("id"))
    assert [r.input for r in runs] == [{"message": "Hello Ada"}, {"message": "Hello Ada again"}]
    assert execution.output == {"message": "Hello Ada again", "level": "info", "data": None}


def test_set_variables_are_readable_later_and_kept_on_the_execution():
    workflow = active(
        [
            {"key": "remember", "name": "Remember", "config": {"action": "set", "inputs": {"total": "{{trigger.n}}"}}},
            log("show", "total={{vars.total}}"),
        ]
    )
    execution = execution_start(workflow=workflow, input={"n": 5})
    execution.refresh_from_db()
    assert execution.variables == {"total": 5}
    assert execution.step_runs.get(step_key="show").input == {"message": "total=5"}


def test_send_email_goes_through_django_mail_with_the_idempotency_header(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    workflow = active(
        [
            {
                "key": "welcome",
                "name": "Send Welcome",
                "config": {
                    "action": "send_email",
                    "inputs": {"to": "{{trigger.email}}", "subject": "Welcome", "body": "Hi"},
                },
            }
        ]
    )
    execution = execution_start(workflow=workflow, input={"email": "ada@example.com"})
    [message] = mail.outbox
    assert message.to == ["ada@example.com"] and message.subject == "Welcome"
    assert message.extra_headers["X-FAOS-Idempotency-Key"] == f"faos-{execution.pk}-welcome"


def test_a_missing_variable_fails_the_run_naming_path_and_step():
    workflow = active([log("greet", "{{trigger.customer.email}}")])
    execution = execution_start(workflow=workflow, input={"customer": {}})
    execution.refresh_from_db()
    assert execution.status == "failed" and execution.error_step == "greet"
    assert "trigger.customer.email" in execution.error


def test_invalid_action_input_fails_without_retry_naming_the_field():
    workflow = active(
        [
            {
                "key": "mail",
                "name": "Mail",
                "config": {"action": "send_email", "inputs": {"to": "{{trigger.email}}", "subject": "x", "body": "y"}},
            }
        ]
    )
    execution = execution_start(workflow=workflow, input={"email": 12})
    execution.refresh_from_db()
    [run] = execution.step_runs.all()
    assert execution.status == "failed" and run.retryable is False and "input 'to'" in run.error


def test_retryable_failure_schedules_a_durable_retry_that_the_sweep_wakes(settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = []
    workflow = active(
        [
            {
                "key": "call",
                "name": "Call",
                "retry_initial_delay": 60,
                "retry_jitter": False,
                "config": {"action": "http_request", "inputs": {"url": "http://unresolvable.invalid/x"}},
            }
        ]
    )
    execution = execution_start(workflow=workflow, input={})
    first = execution.step_runs.get(attempt=1)
    second = execution.step_runs.get(attempt=2)
    assert first.status == "failed" and first.retryable is True
    assert second.status == "pending" and second.wake_at > timezone.now() + timedelta(seconds=50)
    assert sweep().kicked == []  # not due yet
    with time_machine.travel(second.wake_at + timedelta(seconds=1), tick=False):
        report = sweep()
    assert report.kicked == [execution.pk]
    assert execution.step_runs.filter(attempt=3).exists()  # attempt 2 ran and failed again


def test_error_policy_continue_goes_on_after_a_failure():
    workflow = active([{**log("broken", "{{trigger.missing}}"), "on_error": "continue"}, log("after", "still here")])
    execution = execution_start(workflow=workflow, input={})
    execution.refresh_from_db()
    assert execution.status == "succeeded"
    assert list(execution.step_runs.values_list("step_key", "status")) == [("broken", "failed"), ("after", "succeeded")]


def test_notify_policy_emails_the_owner_with_a_link(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    workflow = active([{**log("broken", "{{trigger.missing}}"), "on_error": "notify"}])
    execution = execution_start(workflow=workflow, input={})
    [message] = mail.outbox
    assert message.to == [workflow.owner.email] and f"/admin/executions/execution/{execution.pk}/" in message.body


def test_a_stolen_lease_drops_the_late_result():
    workflow = active([log("only")])
    execution = execution_start(
        workflow=workflow, input={}, user=None, is_test=False, idempotency_key="x"
    )  # runs eagerly
    run = execution.step_runs.get()
    StepRun.objects.filter(pk=run.pk).update(
        status="running", lease_owner="someone-else", lease_expires_at=timezone.now()
    )
    ctx = attempt(run, execution, Definition.from_dict(execution.version.definition))[1]
    assert runtime.steprun_complete(step_run_id=run.pk, worker="me", outcome=Outcome.ok(1), ctx=ctx) is None


def test_sweep_recovers_an_expired_lease_as_the_same_attempt():
    workflow = active([log("only")])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("executions.services.enqueue", lambda *args, **kwargs: None)
        execution = execution_start(workflow=workflow, input={})
    run = execution.step_runs.get()
    assert runtime.steprun_claim(execution_id=execution.pk, worker="dead-worker") is not None
    run.refresh_from_db()
    assert run.status == "running"
    report = sweep(now=run.lease_expires_at + timedelta(seconds=1))
    assert report.leases_recovered == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.attempt, run.claims, execution.step_runs.count()) == ("succeeded", 1, 2, 1)


def test_a_run_past_its_workflow_timeout_is_timed_out_by_the_sweep():
    workflow = active([log("only")], timeout_seconds=5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("executions.services.enqueue", lambda *args, **kwargs: None)
        execution = execution_start(workflow=workflow, input={})
    report = sweep(now=timezone.now() + timedelta(seconds=10))
    execution.refresh_from_db()
    assert report.timed_out == [execution.pk] and execution.status == "timed_out"
    assert execution.step_runs.get().status == "cancelled"
    assert "timeout of 5 s" in execution.error


def test_cancel_stops_pending_steps_and_is_a_no_op_on_finished_runs():
    workflow = active([log("only")])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("executions.services.enqueue", lambda *args, **kwargs: None)
        execution = execution_start(workflow=workflow, input={})
    assert execution_cancel(execution=execution) is True
    assert runtime.execution_run(execution_id=execution.pk) == 0
    execution.refresh_from_db()
    assert execution.status == Execution.Status.CANCELLED and execution.step_runs.get().status == "cancelled"
    assert execution_cancel(execution=execution) is False


def test_two_workers_claiming_the_same_run_never_get_the_same_step():
    workflow = active([log("only")])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("executions.services.enqueue", lambda *args, **kwargs: None)
        execution = execution_start(workflow=workflow, input={})
    assert runtime.steprun_claim(execution_id=execution.pk, worker="a") is not None
    assert runtime.steprun_claim(execution_id=execution.pk, worker="b") is None


def test_the_workflow_level_failure_notice_emails_the_owner(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    workflow = active([log("broken", "{{trigger.missing}}")], on_failure="notify_owner")
    execution = execution_start(workflow=workflow, input={})
    [message] = mail.outbox
    assert "failed" in message.subject and "trigger.missing" in message.body
    assert f"/admin/executions/execution/{execution.pk}/" in message.body


@postgresql_only("row locks need PostgreSQL; SQLite serialises writers")
def test_the_execution_lock_leaves_its_workflow_row_free_for_other_runs():
    from executions.runtime.state import locked_execution
    from workflows.models import Workflow

    workflow = active([log("a")])
    execution = execution_start(workflow=workflow, input={})
    free = []

    def lock_the_workflow_elsewhere():
        try:
            with transaction.atomic():
                free.append(bool(Workflow.objects.select_for_update(nowait=True).filter(pk=workflow.pk).exists()))
        except DatabaseError:
            free.append(False)
        finally:
            connections.close_all()

    with transaction.atomic():
        locked_execution(execution.pk)
        other = threading.Thread(target=lock_the_workflow_elsewhere)
        other.start()
        other.join()
    assert free == [True]
