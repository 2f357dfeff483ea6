"""Batched starts: new runs wait in a Redis list and one message has a worker take a batch of them."""

import time
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError, transaction

from executions.models import StepRun
from executions.runtime import routing, starts
from executions.runtime.sweep import sweep
from executions.services import execution_start
from tests.factories import active_workflow, log_step

pytestmark = pytest.mark.django_db(transaction=True)  # the list is written after the commit


@pytest.fixture
def redis_starts(settings, monkeypatch):
    """The starts list and bell under keys of this test, on the broker's Redis (the machine's when the broker is
    not Redis); the messages they send, recorded by task name instead of sent."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    prefix = f"faos-test:{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(starts, "LIST_KEY", f"{prefix}:starts")
    monkeypatch.setattr(starts, "BELL_KEY", f"{prefix}:bell")
    sent, client = [], starts.client()
    monkeypatch.setattr(starts, "_send", lambda name, *args: sent.append((name.rsplit(".", 1)[1], *args)))
    yield sent
    client.delete(starts.LIST_KEY, starts.BELL_KEY)


def waiting() -> list[int]:
    return [int(value) for value in starts.client().lrange(starts.LIST_KEY, 0, -1)]


def test_starts_are_listed_after_the_commit_and_ring_the_bell_once(redis_starts):
    with transaction.atomic():
        for execution_id in (11, 12, 13):
            starts.announce(execution_id)
        assert waiting() == []  # a worker must not look before the runs' rows are there
    assert waiting() == [11, 12, 13]
    assert redis_starts == [("drain_starts",)]  # one message for the three


def test_a_drain_runs_the_waiting_runs_oldest_first_and_rings_while_more_wait(redis_starts):
    starts.client().rpush(starts.LIST_KEY, *range(1, 6))
    starts.client().set(starts.BELL_KEY, 1)
    ran = []
    assert starts.drain(ran.append, batch=8) == [1, 2, 3, 4, 5]
    assert ran == [1, 2, 3, 4, 5] and waiting() == []
    assert redis_starts == [("drain_starts",)]  # another process was asked to join in, once (the bell was set)


def test_a_drain_answers_the_bell_so_that_the_next_start_rings_it(redis_starts):
    starts.client().rpush(starts.LIST_KEY, 1)
    starts.client().set(starts.BELL_KEY, 1)
    assert starts.drain(lambda execution_id: None) == [1]
    assert redis_starts == [] and not starts.client().exists(starts.BELL_KEY)
    starts.announce(2)
    assert redis_starts == [("drain_starts",)]


def test_a_drain_stops_after_its_batch_and_leaves_the_rest_to_the_message_it_sent(redis_starts):
    starts.client().rpush(starts.LIST_KEY, *range(1, 11))
    assert starts.drain(lambda execution_id: None, batch=4) == [1, 2, 3, 4]
    assert waiting() == [5, 6, 7, 8, 9, 10]
    assert redis_starts == [("drain_starts",)]


def test_a_drain_takes_no_more_runs_once_its_time_is_up(redis_starts):
    starts.client().rpush(starts.LIST_KEY, 1, 2, 3)
    slow = []
    assert starts.drain(lambda execution_id: slow.append(time.sleep(0.05)), seconds=0.01) == [1]
    assert waiting() == [2, 3] and redis_starts == [("drain_starts",)]  # the next process takes them


def test_a_run_that_lost_the_database_goes_back_first_with_those_after_it(redis_starts):
    starts.client().rpush(starts.LIST_KEY, *range(1, 7))
    ran = []

    def run(execution_id):
        if execution_id == 3:
            raise OperationalError("server closed the connection unexpectedly")
        ran.append(execution_id)

    with pytest.raises(OperationalError):
        starts.drain(run, retry=(OperationalError,), batch=4)
    assert ran == [1, 2]
    assert waiting() == [3, 4, 5, 6]  # the task's retry takes them again, in their order


def test_a_run_that_fails_otherwise_is_left_to_the_sweep_and_the_others_still_run(redis_starts, caplog):
    starts.client().rpush(starts.LIST_KEY, 1, 2, 3)
    ran = []

    def run(execution_id):
        if execution_id == 2:
            raise ValueError("a bug")
        ran.append(execution_id)

    assert starts.drain(run, retry=(OperationalError,)) == [1, 2, 3]
    assert ran == [1, 3] and waiting() == []  # a poison run does not hold up the list
    assert "run 2 failed to start here" in caplog.text


def test_a_step_told_long_ago_is_not_told_again_while_new_runs_wait_in_the_list(redis_starts, monkeypatch):
    monkeypatch.setattr(starts, "enabled", lambda: True)
    monkeypatch.setattr(routing, "queue_depth", lambda *names: 0)  # the Celery queues are empty
    kicked = []
    monkeypatch.setattr("executions.runtime.sweep.enqueue", lambda execution_id, **kw: kicked.append(execution_id))
    monkeypatch.setattr("executions.services.enqueue", lambda execution_id, **kw: None)
    monkeypatch.setattr(starts, "announce", lambda execution_id: None)
    execution = execution_start(workflow=active_workflow([log_step("only")]), input={})
    StepRun.objects.filter(execution=execution).update(enqueued_at=execution.created_at - timedelta(minutes=1))
    starts.client().rpush(starts.LIST_KEY, 1, 2)  # a backlog of starts: this run's turn may be in there
    assert sweep().kicked == [] and kicked == []
    starts.client().delete(starts.LIST_KEY)
    assert sweep().kicked == [execution.pk] and kicked == [execution.pk]


def test_a_start_that_cannot_reach_redis_sends_the_run_its_own_message(redis_starts, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    starts.announce(7)  # outside a transaction: at once
    assert redis_starts == [("run_execution", 7)]


def test_a_start_taken_by_a_worker_that_died_is_told_again_by_the_sweep(redis_starts, monkeypatch):
    monkeypatch.setattr(starts, "enabled", lambda: True)
    monkeypatch.setattr(routing, "queue_depth", lambda *names: starts.waiting())  # no other message waits
    kicked = []
    monkeypatch.setattr("executions.runtime.sweep.enqueue", lambda execution_id, **kw: kicked.append(execution_id))
    execution = execution_start(workflow=active_workflow([log_step("only")]), input={})
    assert waiting() == [execution.pk]

    def die(execution_id):
        raise SystemExit("SIGKILL")  # not an error the drain catches: the process is gone

    with pytest.raises(SystemExit):
        starts.drain(die)
    assert waiting() == []
    StepRun.objects.filter(execution=execution).update(enqueued_at=execution.created_at - timedelta(minutes=1))
    assert sweep().kicked == [execution.pk] and kicked == [execution.pk]
