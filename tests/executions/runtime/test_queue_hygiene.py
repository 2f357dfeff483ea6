"""Queue hygiene: a backlog is not multiplied by the sweep, and a database that went away is retried at once."""

from datetime import timedelta

import pytest
from django.db import OperationalError

from executions import runtime, tasks
from executions.models import Execution, StepRun
from executions.runtime import routing
from executions.runtime.sweep import sweep
from executions.services import execution_start
from tests.factories import active_workflow, log_step

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def told_long_ago(monkeypatch):
    """A run whose step was told about 10 minutes ago and never claimed (its message lost, or stuck in a backlog)."""
    sent = []
    for module in ("services", "runtime.sweep"):
        monkeypatch.setattr(f"executions.{module}.enqueue", lambda execution_id, **kw: sent.append(execution_id))
    execution = execution_start(workflow=active_workflow([log_step("only")]), input={})
    StepRun.objects.filter(execution=execution).update(enqueued_at=execution.created_at - timedelta(minutes=10))
    sent.clear()
    return execution, sent


def test_a_step_told_about_long_ago_is_not_told_again_while_the_queues_still_hold_messages(told_long_ago, monkeypatch):
    execution, sent = told_long_ago
    monkeypatch.setattr(routing, "queue_depth", lambda *names: 1_400)  # a backlog: its message is in there
    assert sweep().kicked == [] and sent == []


def test_a_step_told_about_long_ago_is_told_again_once_the_queues_are_empty(told_long_ago, monkeypatch):
    execution, sent = told_long_ago
    monkeypatch.setattr(routing, "queue_depth", lambda *names: 0)  # nothing waits: its message was lost
    assert sweep().kicked == [execution.pk] and sent == [execution.pk]
    assert sweep().kicked == []  # told just now: not again at the next pass


def test_the_real_broker_reports_an_empty_queue_as_zero():
    assert routing.queue_depth("faos-test-never-declared") == 0


def test_a_task_that_lost_the_database_is_retried_at_once_and_the_run_completes(monkeypatch):
    monkeypatch.setattr("executions.services.enqueue", lambda *args, **kwargs: None)
    execution = execution_start(workflow=active_workflow([log_step("only")]), input={})
    real, calls = runtime.execution_run, []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(runtime, "execution_run", flaky)
    tasks.run_execution.apply(args=(execution.pk,))
    execution.refresh_from_db()
    assert len(calls) == 2 and execution.status == Execution.Status.SUCCEEDED


def test_a_step_whose_worker_died_is_sent_on_the_sweep_queue_ahead_of_the_backlog(monkeypatch):
    sent = []
    monkeypatch.setattr("executions.services.enqueue", lambda *args, **kwargs: None)
    monkeypatch.setattr("executions.runtime.sweep.enqueue", lambda execution_id, **kw: sent.append((execution_id, kw)))
    monkeypatch.setattr(routing, "queue_depth", lambda *names: 5_000)  # a deep backlog on the steps queue
    execution = execution_start(workflow=active_workflow([log_step("only")]), input={})
    step_run, _, _ = runtime.steprun_claim(execution_id=execution.pk, worker="killed")
    report = sweep(now=step_run.lease_expires_at + timedelta(seconds=1))
    assert report.leases_recovered == [step_run.pk] and report.kicked == []  # told once, not twice
    assert sent == [(execution.pk, {"queue": routing.SWEEP})]
    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempt, step_run.lease_owner) == ("pending", 1, "")


def test_a_recovered_step_whose_sweep_message_was_lost_is_told_again_there_without_waiting_for_the_backlog(
    monkeypatch,
):
    sent = []
    monkeypatch.setattr("executions.services.enqueue", lambda *args, **kwargs: None)
    monkeypatch.setattr("executions.runtime.sweep.enqueue", lambda execution_id, **kw: sent.append((execution_id, kw)))
    depths = {routing.STEPS: 5_000, routing.AGENTS: 0, routing.SWEEP: 0}  # a backlog; the sweep queue is empty
    monkeypatch.setattr(routing, "queue_depth", lambda *names: sum(depths[name] for name in names))
    execution = execution_start(workflow=active_workflow([log_step("only")]), input={})
    step_run, _, _ = runtime.steprun_claim(execution_id=execution.pk, worker="killed")
    recovered_at = step_run.lease_expires_at + timedelta(seconds=1)
    sweep(now=recovered_at)  # its worker died: told on the sweep queue; then the broker restarts and loses that
    sent.clear()

    assert sweep(now=recovered_at + timedelta(seconds=5)).kicked == []  # its message may still be on its way
    depths[routing.SWEEP] = 3
    assert sweep(now=recovered_at + timedelta(seconds=11)).kicked == []  # the queue holds messages: maybe its own
    depths[routing.SWEEP] = 0
    assert sweep(now=recovered_at + timedelta(seconds=11)).kicked == [execution.pk]
    assert sent == [(execution.pk, {"queue": routing.SWEEP})]
    assert sweep(now=recovered_at + timedelta(seconds=12)).kicked == []  # told again just now: once, not each pass


def test_a_step_never_claimed_is_not_taken_for_a_lost_recovery_while_the_steps_queue_holds_a_backlog(
    told_long_ago, monkeypatch
):
    execution, sent = told_long_ago
    depths = {routing.STEPS: 1_400, routing.AGENTS: 0, routing.SWEEP: 0}
    monkeypatch.setattr(routing, "queue_depth", lambda *names: sum(depths[name] for name in names))
    assert sweep().kicked == [] and sent == []  # its message is in the backlog: the backlog stays N messages


def test_after_the_broker_lost_its_queues_every_told_step_is_told_again_at_once_and_then_not_again(monkeypatch):
    sent = []
    monkeypatch.setattr("executions.services.enqueue", lambda *args, **kwargs: None)
    monkeypatch.setattr("executions.runtime.sweep.enqueue", lambda execution_id, **kw: sent.append((execution_id, kw)))
    monkeypatch.setattr(routing, "queue_depth", lambda *names: 40)  # new work arrived since: not a lost-message sign
    fresh = execution_start(workflow=active_workflow([log_step("only")]), input={})  # told a moment ago
    recovered = execution_start(workflow=active_workflow([log_step("only")]), input={})
    step_run, _, _ = runtime.steprun_claim(execution_id=recovered.pk, worker="killed")
    recovered_at = step_run.lease_expires_at + timedelta(seconds=1)
    sweep(now=recovered_at)  # its worker died: told on the sweep queue
    sent.clear()
    monkeypatch.setattr(routing, "broker_lost_messages", lambda: True)  # then Redis restarted, empty
    report = sweep(now=recovered_at + timedelta(seconds=2))
    assert report.broker_lost and sorted(report.kicked) == sorted([fresh.pk, recovered.pk])
    assert sorted(sent) == sorted([(recovered.pk, {"queue": routing.SWEEP}), (fresh.pk, {"queue": None})])
    monkeypatch.setattr(routing, "broker_lost_messages", lambda: False)
    assert sweep(now=recovered_at + timedelta(seconds=3)).kicked == []  # told again just now: once


def test_the_broker_epoch_key_says_once_that_a_redis_broker_lost_its_queues_but_not_on_the_first_sweep():
    from faos.celery import app

    with app.connection_for_write() as conn:
        if conn.transport.driver_type != "redis":
            assert routing.broker_lost_messages() is False  # RabbitMQ and the filesystem keep their queues
            return
        client = conn.default_channel.client
        client.delete(routing.BROKER_EPOCH_KEY)
        assert routing.broker_lost_messages() is False  # the first sweep ever: nothing was told through it yet
        assert routing.broker_lost_messages() is False  # the key is there
        client.delete(routing.BROKER_EPOCH_KEY)  # what a restart without persistence, a flush or a failover does
        assert routing.broker_lost_messages() is True
        assert routing.broker_lost_messages() is False  # only one sweep acts on it


def test_a_broker_loss_seen_while_the_database_is_down_is_seen_again_at_the_next_sweep(monkeypatch):
    from faos.celery import app
    from ops import models as ops_models

    with app.connection_for_write() as conn:
        if conn.transport.driver_type != "redis":
            assert routing.broker_lost_messages() is False
            return
        client = conn.default_channel.client
        routing.broker_lost_messages()  # the key and its heartbeat row are there
        ops_models.heartbeat(routing.BROKER_EPOCH_KEY)
        client.delete(routing.BROKER_EPOCH_KEY)  # a reboot: Redis and PostgreSQL both restarted

        def database_down(name, at=None):
            raise OperationalError("the database system is starting up")

        with monkeypatch.context() as patched:
            patched.setattr(ops_models, "heartbeat", database_down)
            with pytest.raises(OperationalError):
                routing.broker_lost_messages()
        assert client.get(routing.BROKER_EPOCH_KEY) is None  # not kept: the loss is not forgotten
        assert routing.broker_lost_messages() is True
