"""More step kinds on a real worker: any-join cancels the losers, a durable wait woken by the Beat sweep,
wait_for_event resumed by an event, a sub-workflow, cancel of a waiting run, and retry from the failed step."""

import pytest

from executions.events import event_emit
from executions.models import Execution
from executions.services import execution_cancel, execution_retry, execution_start
from tests.e2e.conftest import wait_for
from tests.factories import active_workflow as active
from tests.factories import log_step as log
from workflows.services import workflow_activate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def settled(execution, statuses=("succeeded", "failed", "cancelled", "timed_out"), timeout=60):
    def check():
        execution.refresh_from_db()
        return execution.status in statuses

    wait_for(check, timeout=timeout, message=f"run #{execution.pk} to reach {statuses}")
    return execution


def keys(execution):
    return list(execution.step_runs.order_by("id").values_list("step_key", flat=True))


def test_step_kinds_on_a_real_worker(start_worker):
    start_worker()
    # any-join: the fast branch wins, the waiting branch is cancelled
    race = active(
        [
            {
                "key": "race",
                "name": "Race",
                "kind": "parallel",
                "config": {"branches": [["fast"], ["slow"]], "join": "any"},
            },
            log("fast"),
            {"key": "slow", "name": "Slow", "kind": "wait", "config": {"duration": "1h"}},
            log("after"),
        ]
    )
    run = settled(execution_start(workflow=race, input={}))
    assert run.status == "succeeded" and run.step_runs.get(step_key="slow").status == "cancelled"

    # a durable 2-second wait is woken by the Beat sweep, exactly once
    nap = active([{"key": "nap", "name": "Nap", "kind": "wait", "config": {"duration": "2s"}}, log("awake")])
    run = settled(execution_start(workflow=nap, input={}))
    assert keys(run) == ["nap", "awake"] and run.step_runs.filter(step_key="awake").count() == 1

    # wait_for_event resumes when the matching event is emitted
    waiter = active(
        [
            {
                "key": "await_reply",
                "name": "Await Reply",
                "kind": "wait_for_event",
                "config": {"event": "reply", "match": "event.data.id == trigger.id", "timeout": "1h"},
                "branches": {"on_event": "met", "on_timeout": "missed"},
            },
            log("met", next_step="end"),
            log("missed"),
        ]
    )
    run = settled(execution_start(workflow=waiter, input={"id": 7}), statuses=("waiting",))
    event_emit(type="reply", data={"id": 7})
    assert keys(settled(run)) == ["await_reply", "met"]

    # a sub-workflow runs on the worker and its output comes back
    active(
        [{"key": "double", "name": "Double", "kind": "complete", "config": {"output": {"n": "{{trigger.n * 2}}"}}}],
        name="Doubler",
    )
    parent = active(
        [
            {
                "key": "child",
                "name": "Call Doubler",
                "kind": "sub_workflow",
                "config": {"workflow": "Doubler", "input": {"n": "{{trigger.n}}"}},
            },
            log("show", "{{child.result.n}}"),
        ]
    )
    run = settled(execution_start(workflow=parent, input={"n": 21}))
    assert run.step_runs.get(step_key="show").input == {"message": 42}

    # cancel a waiting run: its timer never fires
    sleeper = active([{"key": "long", "name": "Long Wait", "kind": "wait", "config": {"duration": "1h"}}, log("never")])
    run = settled(execution_start(workflow=sleeper, input={}), statuses=("waiting",))
    assert execution_cancel(execution=run)
    assert keys(settled(run)) == ["long"] and run.status == "cancelled"

    # retry from the failed step on the active version
    fragile = active([log("first"), log("second", "{{trigger.missing}}", retry_max_attempts=1)])
    failed = settled(execution_start(workflow=fragile, input={}))
    assert failed.status == "failed"
    fragile.steps.filter(key="second").update(config={"action": "log", "inputs": {"message": "fixed"}})
    workflow_activate(workflow=fragile)
    retry = settled(execution_retry(execution=failed, on_active_version=True))
    assert retry.status == "succeeded" and Execution.objects.filter(retry_of=failed).count() == 1
