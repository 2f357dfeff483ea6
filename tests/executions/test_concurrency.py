"""Concurrency and ordering per workflow, in-process: at most K runs in flight per key, the rest queued in order."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from executions.models import Execution
from executions.services import execution_cancel, execution_start, executions_start_queued
from tests.factories import EditorFactory, active_workflow, log_step
from tests.vendor import postgresql_only
from workflows.models import Workflow
from workflows.services import workflow_definition, workflow_import

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = {"key": "hold", "name": "Hold", "kind": "wait", "config": {"duration": "1h"}}  # keeps a run in flight


def limited(limit=1, key="{{trigger.customer.id}}", overflow="queue"):
    workflow = active_workflow([WAIT, log_step("done")])
    Workflow.objects.filter(pk=workflow.pk).update(
        concurrency_limit=limit, concurrency_key=key, concurrency_overflow=overflow
    )
    workflow.refresh_from_db()
    return workflow


def deliver(workflow, customer, n=0):
    run = execution_start(workflow=workflow, input={"customer": {"id": customer}, "n": n}, trigger_kind="webhook")
    run.refresh_from_db()
    return run


def statuses(*runs):
    return [Execution.objects.get(pk=run.pk).status for run in runs]


def test_runs_over_the_limit_for_one_key_wait_in_the_queue_and_start_in_arrival_order():
    workflow = limited()
    a, b, c, d = deliver(workflow, "c1"), deliver(workflow, "c1"), deliver(workflow, "c2"), deliver(workflow, "c1")
    assert statuses(a, b, c, d) == ["waiting", "queued", "waiting", "queued"]  # c2 has its own place
    assert not b.step_runs.exists() and b.deadline_at is None  # no step and no timeout while it waits its turn
    execution_cancel(execution=a)
    assert statuses(b, d) == ["waiting", "queued"]  # the oldest of c1 took the freed place, d still waits
    execution_cancel(execution=b)
    assert statuses(d) == ["waiting"]
    assert Execution.objects.get(pk=d.pk).deadline_at is not None  # its timeout counts from its start


def test_cancelling_a_queued_run_removes_it_from_the_queue():
    workflow = limited()
    a, b, c = deliver(workflow, "c1"), deliver(workflow, "c1"), deliver(workflow, "c1")
    assert execution_cancel(execution=b) is True
    assert statuses(a, b, c) == ["waiting", "cancelled", "queued"]
    execution_cancel(execution=a)
    assert statuses(c) == ["waiting"]


def test_a_limit_of_two_without_a_key_is_one_limit_for_the_whole_workflow():
    workflow = limited(limit=2, key="")
    runs = [deliver(workflow, f"c{i}") for i in range(3)]
    assert statuses(*runs) == ["waiting", "waiting", "queued"]


def test_skip_records_the_run_over_the_limit_as_cancelled_with_why():
    workflow = limited(overflow="skip")
    a, b = deliver(workflow, "c1"), deliver(workflow, "c1")
    assert statuses(a, b) == ["waiting", "cancelled"]
    assert b.error == "Skipped: 1 run(s) for key 'c1' already in flight (limit 1)."


def test_replace_cancels_the_oldest_run_in_flight_and_starts_the_new_one():
    workflow = limited(overflow="replace")
    a, b = deliver(workflow, "c1"), deliver(workflow, "c1")
    assert statuses(a, b) == ["cancelled", "waiting"]
    assert Execution.objects.get(pk=a.pk).error == f"Replaced by run #{b.pk}."


@postgresql_only("a held run's row is skipped (SKIP LOCKED); SQLite locks the whole database, so a replace waits")
def test_replace_never_waits_for_a_run_its_worker_holds_it_queues_instead():
    """A worker recording a step holds its run's row, then takes the workflow's; replace holds the workflow's and
    would wait for the run's: a deadlock. So a held run is passed over, and with every run held the new one queues."""
    import threading

    from django.db import connection, transaction

    workflow = limited(overflow="replace")
    a = deliver(workflow, "c1")
    held, release = threading.Event(), threading.Event()

    def worker_recording_a_step():
        with transaction.atomic():
            Execution.objects.select_for_update().get(pk=a.pk)
            held.set()
            release.wait(30)
        connection.close()

    thread = threading.Thread(target=worker_recording_a_step)
    thread.start()
    assert held.wait(30)
    try:
        b = deliver(workflow, "c1")
    finally:
        release.set()
        thread.join()
    assert statuses(a, b) == ["waiting", "queued"]
    execution_cancel(execution=Execution.objects.get(pk=a.pk))  # the held run ends: the queued one takes its place
    assert statuses(a, b) == ["cancelled", "waiting"]


def test_a_queued_run_says_why_it_waits_in_the_api():
    workflow = limited()
    deliver(workflow, "c1")
    deliver(workflow, "c1")
    queued = deliver(workflow, "c1")
    client = APIClient()
    client.force_authenticate(workflow.owner or EditorFactory())
    body = client.get(f"/api/executions/{queued.pk}/").json()
    assert body["status"] == "queued" and body["concurrency_key"] == "c1"
    assert body["queued_reason"] == (
        "Waiting for a place: 1 run(s) with key 'c1' in flight, the limit is 1; 1 queued ahead of it."
    )


def test_without_a_limit_runs_have_no_key_and_never_queue():
    workflow = active_workflow([WAIT])
    runs = [deliver(workflow, "c1") for _ in range(3)]
    assert statuses(*runs) == ["waiting"] * 3 and {r.concurrency_key for r in runs} == {None}


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("{{trigger.customer.id", "}}"),
        ("customer", "Write an expression"),
        ("{{vars.customer}}", "Only trigger data can be read here, not vars."),
    ],
)
def test_a_concurrency_key_must_be_an_expression_over_the_trigger(key, message):
    workflow = Workflow(name="x", concurrency_limit=1, concurrency_key=key)
    with pytest.raises(ValidationError) as error:
        workflow.full_clean(exclude=["owner", "active_version", "activated_by"])
    assert message in str(error.value.message_dict["concurrency_key"])


def test_the_api_refuses_a_bad_key_naming_the_field():
    editor = EditorFactory()
    client = APIClient()
    client.force_authenticate(editor)
    body = {"name": "Per customer", "concurrency_limit": 1, "concurrency_key": "{{step.result}}", "steps": []}
    answer = client.post("/api/workflows/", body, format="json")
    assert answer.status_code == 400 and "concurrency_key" in answer.json()


def test_export_and_import_keep_the_concurrency_settings():
    workflow = limited(limit=3, overflow="skip")
    exported = workflow_definition(workflow=workflow)
    assert exported["concurrency"] == {"limit": 3, "overflow": "skip", "key": "{{trigger.customer.id}}"}
    editor = EditorFactory()
    copy = workflow_import(definition=exported, owner=editor, name="Copy")
    assert (copy.concurrency_limit, copy.concurrency_key, copy.concurrency_overflow) == (
        3,
        "{{trigger.customer.id}}",
        "skip",
    )
    with pytest.raises(ValidationError) as error:
        workflow_import(definition={**exported, "concurrency": {"limit": 0}}, owner=editor)
    assert "concurrency.limit" in error.value.message_dict


def test_raising_the_limit_starts_the_queued_runs_that_now_fit_at_once():
    workflow = limited()
    runs = [deliver(workflow, "c1") for _ in range(4)]
    assert statuses(*runs) == ["waiting", "queued", "queued", "queued"]
    Workflow.objects.filter(pk=workflow.pk).update(concurrency_limit=2)
    assert executions_start_queued(workflow=workflow) == [runs[1].pk]
    editor, client = EditorFactory(), APIClient()
    client.force_authenticate(editor)
    Workflow.objects.filter(pk=workflow.pk).update(owner=editor)
    answer = client.patch(f"/api/workflows/{workflow.pk}/", {"concurrency_limit": 3}, format="json")
    assert answer.status_code == 200, answer.json()
    assert statuses(*runs) == ["waiting", "waiting", "waiting", "queued"]  # the oldest first, up to the limit
