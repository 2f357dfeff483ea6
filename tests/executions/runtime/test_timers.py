"""Timers (issue 14 item 6): a short wait gets a countdown message for its exact wake-up time, an early message is
sent again for the time left, the sweep arms timers due before its next pass, and Beat keeps its sweep."""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask, PeriodicTasks
from django_celery_beat.schedulers import DatabaseScheduler as StockScheduler
from django_celery_beat.schedulers import ModelEntry

from executions import runtime, tasks
from executions.models import StepRun
from executions.runtime import routing
from executions.runtime.sweep import sweep
from executions.services import enqueue, execution_start, timer_horizon
from faos.beat import DatabaseScheduler
from faos.celery import app
from tests.factories import active_workflow as active
from tests.factories import log_step as log

pytestmark = pytest.mark.django_db(transaction=True)


def waiting(seconds) -> list[dict]:
    return [{"key": "pause", "name": "Pause", "kind": "wait", "config": {"seconds": seconds}}, log("after")]


@pytest.fixture
def sent():
    """Messages to the workers, recorded instead of run: (execution id, countdown)."""
    with mock.patch.object(tasks.run_execution, "apply_async") as apply_async:
        calls = []
        apply_async.side_effect = lambda args, countdown=None, queue=None: calls.append((args[0], countdown))
        yield calls


def parked(seconds, sent):
    """A run started and run up to its wait (the messages recorded, not run); returns (execution, its wait)."""
    execution = execution_start(workflow=active(waiting(seconds)), input={})
    runtime.execution_run(execution_id=execution.pk)
    return execution, execution.step_runs.get(step_key="pause")


def test_a_wait_shorter_than_the_sweep_interval_gets_a_countdown_for_its_wake_up_time(sent):
    execution, pause = parked(2, sent)
    assert pause.status == "pending" and pause.enqueued_at is not None  # the sweep will not send it again
    [(execution_id, countdown)] = sent[1:]  # after the start's own message
    assert execution_id == execution.pk and 0 < countdown <= 2
    assert abs(timezone.now() + timedelta(seconds=countdown) - pause.wake_at) < timedelta(seconds=0.5)


def test_the_countdown_is_computed_from_the_wake_up_time_when_the_transaction_commits(sent):
    execution = execution_start(workflow=active(waiting(60)), input={})
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        with transaction.atomic():
            enqueue(execution.pk, wake_at=start + timedelta(seconds=2))
            traveller.shift(0.5)  # a slow commit
        assert sent[-1] == (execution.pk, 1.5)


def test_a_long_wait_is_left_to_the_sweep(sent):
    _, pause = parked(3600, sent)
    assert len(sent) == 1 and pause.enqueued_at is None


def test_an_early_countdown_message_is_not_lost(sent):
    execution, pause = parked(2, sent)
    tasks.run_execution.push_request(eta=pause.wake_at.isoformat(), hostname="w1@host")
    try:
        with time_machine.travel(pause.wake_at - timedelta(seconds=0.25), tick=False):
            assert tasks.run_execution(execution.pk) == 0  # it came early: nothing is due yet
            assert sent[-1] == (execution.pk, 0.25)  # sent again for the time left
        with time_machine.travel(pause.wake_at + timedelta(seconds=0.01), tick=False):
            assert tasks.run_execution(execution.pk) == 2  # the wait, then the step after it
    finally:
        tasks.run_execution.pop_request()
    pause.refresh_from_db()
    assert pause.status == "succeeded"


def test_a_message_without_a_countdown_that_finds_nothing_sends_nothing(sent):
    execution, _ = parked(2, sent)
    before = len(sent)
    assert tasks.run_execution(execution.pk) == 0
    assert len(sent) == before


def test_the_sweep_arms_timers_due_before_its_next_pass_once_and_leaves_later_ones(sent):
    soon, _ = parked(3600, sent)
    later, _ = parked(3600, sent)
    now = timezone.now()
    StepRun.objects.filter(execution=soon, step_key="pause").update(wake_at=now + timedelta(seconds=3))
    sent.clear()
    with time_machine.travel(now, tick=False):
        report = sweep()
        assert report.armed == [soon.pk] and sent == [(soon.pk, 3.0)]
        assert sweep().armed == []  # already sent: not again while its message may still come
    assert timer_horizon() >= timedelta(seconds=2 * 1)


def test_a_timer_whose_message_was_lost_is_woken_by_the_sweep(sent, monkeypatch):
    # The queues are empty, so its message was lost. Read from the real broker, the depth is whatever earlier tests
    # in this process left on its database (a red CI: the sweep then rightly waited for the "backlog" to drain).
    monkeypatch.setattr(routing, "queue_depth", lambda *names: 0)
    execution, pause = parked(2, sent)
    with time_machine.travel(pause.wake_at + timedelta(seconds=31), tick=False):
        assert execution.pk in sweep().kicked


def flush_beat_tables():
    """What a test database flush does to Beat's tables: every row gone, no signals (SQLite has no TRUNCATE)."""
    with connection.cursor() as cursor:
        for table in (PeriodicTask._meta.db_table, PeriodicTasks._meta.db_table):
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - model table names


@pytest.mark.parametrize(("scheduler", "keeps_the_sweep"), [(DatabaseScheduler, True), (StockScheduler, False)])
def test_beat_finds_the_sweep_put_back_after_its_tables_were_emptied(scheduler, keeps_the_sweep):
    """The live onboarding test's missed timer: Beat's forced 5-minute reload fell between a flush and the next
    test putting the sweep back; django-celery-beat then compared the new change time with itself and never saw
    the sweep again, so no timer was woken."""
    beat = scheduler(app=app)
    assert "faos-sweep" in beat.schedule
    flush_beat_tables()
    assert "faos-sweep" in beat.schedule  # no change seen yet: the old entry stays
    beat._last_full_sync -= timedelta(minutes=6)  # the forced reload comes while the tables are empty
    assert beat.schedule == {}
    ModelEntry.from_entry("faos-sweep", app=app, task="executions.tasks.sweep", schedule=1.0)  # put back
    assert ("faos-sweep" in beat.schedule) is keeps_the_sweep


def test_beat_reads_the_tasks_with_their_schedules_in_one_statement():
    """One snapshot: a schedule deleted between two reads once left a task without one, and Beat died on it."""
    beat = DatabaseScheduler(app=app)
    with CaptureQueriesContext(connection) as queries:
        models = beat.enabled_models()
    tasks_read = [q["sql"] for q in queries.captured_queries if 'FROM "django_celery_beat_periodictask"' in q["sql"]]
    with CaptureQueriesContext(connection) as later:
        schedules = [model.schedule for model in models]
    assert len(tasks_read) == 1 and 'JOIN "django_celery_beat_intervalschedule"' in tasks_read[0]
    assert later.captured_queries == []
    assert "faos-sweep" in {model.name for model in models} and len(schedules) == len(models)


def test_a_task_read_without_its_schedule_is_skipped_and_beat_goes_on(monkeypatch, caplog):
    beat = DatabaseScheduler(app=app)
    orphan = PeriodicTask(name="orphan", task="executions.tasks.sweep")  # as a task whose schedule was just deleted
    monkeypatch.setattr(StockScheduler, "enabled_models", lambda self: [orphan, *PeriodicTask.objects.enabled()])
    schedule = beat.all_as_schedule()
    assert "faos-sweep" in schedule and "orphan" not in schedule
    assert "'orphan' has no schedule" in caplog.text
