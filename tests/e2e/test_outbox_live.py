"""A worker SIGKILLed after a run's failing transaction committed, before its outbox was delivered: the next
worker sends the owner's e-mail once and starts the `execution.failed` workflow once."""

import pytest

from executions.models import Event, Execution, OutboxMessage
from executions.services import execution_start
from tests.e2e.conftest import purge_broker, wait_for
from tests.factories import UserFactory, active_workflow, log_step
from workflows.models import Trigger

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("hint", ["queued", "lost"])
def test_a_worker_killed_between_the_commit_and_the_delivery_loses_no_email_and_no_failure_workflow(
    hint, start_worker, tmp_path
):
    owner = UserFactory(email="owner@example.com")
    fail = {"key": "boom", "name": "Boom", "kind": "fail", "config": {"message": "card declined"}}
    broken = active_workflow([fail], on_failure="notify_owner", owner=owner, name="Broken")
    watcher = active_workflow([log_step("seen", "{{trigger.error}}")], owner=owner, name="Watcher")
    Trigger.objects.create(
        workflow=watcher,
        kind="event",
        config={"type": "execution.failed", "filter": f"event.data.workflow_id == {broken.pk}"},
    )
    mail_dir = tmp_path / "mail"
    mail = {"EMAIL_URL": f"filemail:///{mail_dir}"}  # one file per connection, in this folder

    # This worker runs steps only, and has no Beat: the run fails and commits its outbox rows, whose delivery
    # messages wait on the sweep queue; then the worker dies without a chance to deliver anything.
    # (Its runs would deliver their own events right after the commit: here they leave them to the sweep queue.)
    first = start_worker(queues="steps", beat=False, name="steps-only", FAOS_RUN_DELIVERS_EVENTS="false", **mail)
    execution = execution_start(workflow=broken, input={})
    wait_for(
        lambda: OutboxMessage.objects.filter(key__startswith=f"execution:{execution.pk}:").count() == 2,
        timeout=90,
        message="the failing transaction to commit its outbox rows",
    )
    first.kill()
    if hint == "lost":  # the worker died before its on_commit hints reached the broker: only the sweep can tell
        purge_broker()
    execution.refresh_from_db()
    assert execution.status == Execution.Status.FAILED
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"pending"}
    assert not Event.objects.exists() and not mail_dir.exists()

    # A new worker (every queue, with Beat): the sweep (and the delivery messages, if queued) deliver the rows.
    start_worker(**mail)
    wait_for(
        lambda: set(
            OutboxMessage.objects.filter(key__startswith=f"execution:{execution.pk}:").values_list("status", flat=True)
        )
        == {"sent"},
        timeout=90,
        message="the outbox rows to be delivered",
    )
    started = wait_for(
        lambda: list(watcher.executions.filter(status=Execution.Status.SUCCEEDED)),
        timeout=90,
        message="the execution.failed workflow to run",
    )
    emails = "".join(path.read_text() for path in mail_dir.iterdir())
    assert emails.count("Subject: [FAOS] Broken: run #") == 1 and "card declined" in emails
    assert Event.objects.filter(type="execution.failed").count() == 1
    assert len(started) == 1 and watcher.executions.count() == 1
    assert OutboxMessage.objects.get(key=f"execution:{execution.pk}:failed").attempts == 1
