"""A real Celery worker process runs workflows from execution_start; a SIGKILLed worker loses no run."""

import re

import pytest
from django.db import transaction

from executions.models import Execution, StepRun
from executions.services import execution_start
from tests.e2e.conftest import wait_for
from tests.factories import active_workflow, log_step, workflow_with_steps
from workflows.services import workflow_activate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def three_step_workflow(url: str, *, call_timeout: int = 30):
    workflow = workflow_with_steps(
        [
            {
                "key": "remember",
                "name": "Remember Customer",
                "config": {"action": "set", "inputs": {"email": "{{trigger.customer.email}}"}},
            },
            {
                "key": "notify_crm",
                "name": "Notify CRM",
                "timeout_seconds": call_timeout,
                "config": {
                    "action": "http_request",
                    "inputs": {
                        "method": "POST",
                        "url": f"{url}/contacts",
                        "json": {"email": "{{vars.email}}", "plan": "{{trigger.customer.plan}}"},
                    },
                },
            },
            {
                "key": "done",
                "name": "Done",
                "kind": "complete",
                "config": {"output": {"crm": "{{notify_crm.result.body}}", "email": "{{vars.email}}"}},
            },
        ]
    )
    workflow_activate(workflow=workflow)
    workflow.refresh_from_db()
    return workflow


def finished(execution):
    execution.refresh_from_db()
    return execution.is_finished


def test_a_real_worker_runs_three_steps_and_records_every_step_run(start_worker, fake_server):
    fake_server.route("POST", "/contacts", body={"id": 42})
    workflow = three_step_workflow(fake_server.url)
    start_worker()
    execution = execution_start(workflow=workflow, input={"customer": {"email": "ada@example.com", "plan": "premium"}})

    wait_for(lambda: finished(execution), message="the run to finish")
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    assert execution.output == {"crm": {"id": 42}, "email": "ada@example.com"}
    runs = list(execution.step_runs.order_by("id"))
    assert [(r.step_key, r.status, r.attempt) for r in runs] == [
        ("remember", "succeeded", 1),
        ("notify_crm", "succeeded", 1),
        ("done", "succeeded", 1),
    ]
    assert runs[0].output == {"email": "ada@example.com"}
    assert runs[1].input["json"] == {"email": "ada@example.com", "plan": "premium"}
    assert runs[1].output["status"] == 200 and runs[1].duration_ms is not None
    assert all(r.started_at and r.finished_at and r.lease_owner == "" for r in runs)
    [request] = fake_server.requests
    assert request.json() == {"email": "ada@example.com", "plan": "premium"}
    assert request.headers["Idempotency-Key"] == f"faos-{execution.pk}-notify_crm"


def test_a_worker_killed_mid_step_loses_no_run_and_the_retry_carries_the_same_idempotency_key(
    start_worker, fake_server
):
    fake_server.route("POST", "/contacts", body={"id": 7}, delay=4)
    workflow = three_step_workflow(fake_server.url, call_timeout=3)
    first = start_worker()
    execution = execution_start(workflow=workflow, input={"customer": {"email": "bob@example.com", "plan": "basic"}})

    assert fake_server.arrived.wait(60), "the HTTP step never started"
    first.kill()
    interrupted = StepRun.objects.get(execution=execution, step_key="notify_crm")
    assert interrupted.status == StepRun.Status.RUNNING  # the dead worker never reported back

    fake_server.route("POST", "/contacts", body={"id": 7})
    start_worker()
    wait_for(lambda: finished(execution), timeout=90, message="the run to finish on the new worker")
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    step = StepRun.objects.get(execution=execution, step_key="notify_crm")
    assert (step.attempt, step.claims, step.status) == (1, 2, "succeeded")
    keys = [r.headers["Idempotency-Key"] for r in fake_server.requests]
    assert keys == [f"faos-{execution.pk}-notify_crm"] * 2
    assert execution.step_runs.filter(step_key="done", status="succeeded").count() == 1


def test_runs_started_together_are_run_by_a_few_drain_messages_not_a_message_each(start_worker):
    workflow = active_workflow([log_step("first"), log_step("second")])
    with transaction.atomic():  # 20 starts at one commit, before any worker is up: they wait in the list
        ids = [execution_start(workflow=workflow, input={"n": n}).pk for n in range(20)]
    worker = start_worker()

    def batches() -> list[int]:  # the runs each finished drain task ran, as its worker logged it
        found = re.findall(r"drain_starts\[[^]]+\] succeeded in [\d.]+s: (\d+)", worker.log.read_text())
        return [int(n) for n in found]

    wait_for(lambda: sum(batches()) == 20, message="the drain tasks to run the 20 runs")
    assert Execution.objects.filter(pk__in=ids, status=Execution.Status.SUCCEEDED).count() == 20
    assert StepRun.objects.filter(execution_id__in=ids, status=StepRun.Status.SUCCEEDED).count() == 40
    # One message rang the bell; a drain rang again while runs waited, so both processes drained at once, each at
    # most 16 runs a message: a few messages for twenty runs, none a run. A drain takes no new run after 0.5 s, so
    # a busy machine (or a cold worker's first runs) splits them further: 3–5 messages here, never one a run.
    ran = [n for n in batches() if n]
    assert len(ran) <= 10 and max(ran) <= 16, batches()
    assert "run_execution[" not in worker.log.read_text()
