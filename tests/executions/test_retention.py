"""Retention: prune_executions deletes old finished runs and what hangs off them, in batches, and nothing else."""

from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from executions import tasks
from executions.dashboard import failing_steps, model_usage, overall_metrics, runs_per_day, workflow_metrics
from executions.models import Approval, ApprovalDecision, Execution, StepRun, Task
from executions.retention import RetentionError, executions_prune
from faos.celery import app
from tests.factories import UserFactory, log_step, workflow_with_steps
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db

DAYS_90 = timedelta(days=90)


@pytest.fixture
def flow():
    workflow = workflow_with_steps([log_step("a")], name="Flow")
    return workflow, workflow_activate(workflow=workflow)


def run(flow, status, *, days_ago=0, finished_days_ago=None, steps=0, step_status="succeeded", **fields):
    """A run created `days_ago` days ago (finished then too, unless told) with `steps` step runs."""
    workflow, version = flow
    now = timezone.now()
    finished = None
    if status in Execution.FINISHED:
        finished = now - timedelta(days=days_ago if finished_days_ago is None else finished_days_ago)
    execution = Execution.objects.create(
        workflow=workflow, version=version, status=status, finished_at=finished, **fields
    )
    Execution.objects.filter(pk=execution.pk).update(created_at=now - timedelta(days=days_ago))
    StepRun.objects.bulk_create(
        StepRun(execution=execution, step_key=f"s{n}", step_kind="action", status=step_status) for n in range(steps)
    )
    return execution


def exists(*executions) -> list[bool]:
    return [Execution.objects.filter(pk=e.pk).exists() for e in executions]


def prune(*args: str) -> str:
    """Run the command; returns what it printed."""
    from io import StringIO

    out = StringIO()
    call_command("prune_executions", *args, stdout=out)
    return out.getvalue()


def test_prune_deletes_finished_runs_older_than_the_cutoff_with_their_step_runs(flow):
    old_ok = run(flow, "succeeded", days_ago=100, steps=3)
    old_failed = run(flow, "failed", days_ago=95, steps=2, step_status="failed")
    recent = run(flow, "succeeded", days_ago=10, steps=2)
    long_wait = run(flow, "succeeded", days_ago=120, finished_days_ago=30, steps=1)  # ended inside the period
    report = executions_prune(older_than=DAYS_90)
    assert (report["executions"], report["step_runs"], report["batches"]) == (2, 5, 1)
    assert exists(old_ok, old_failed, recent, long_wait) == [False, False, True, True]
    assert StepRun.objects.filter(execution__in=[old_ok, old_failed]).count() == 0
    assert StepRun.objects.count() == 3


def test_prune_takes_approvals_and_closed_tasks_and_unlinks_what_it_keeps(flow):
    old = run(flow, "succeeded", days_ago=100, steps=3)
    first, second, third = old.step_runs.order_by("id")
    boss, group = UserFactory(), Group.objects.create(name="deciders")
    approval = Approval.objects.create(execution=old, step_run=first, title="Refund", status="approved")
    approval.approvers.add(boss)
    approval.approver_groups.add(group)
    approval.escalation_groups.add(group)
    ApprovalDecision.objects.create(approval=approval, user=boss, decision="approve")
    done = Task.objects.create(title="Checked", status="done", execution=old, step_run=second)
    still_open = Task.objects.create(title="Restock", execution=old, step_run=third)
    retry = run(flow, "succeeded", days_ago=5, retry_of=old)
    child = run(flow, "succeeded", days_ago=5, parent_step_run=first)

    report = executions_prune(older_than=DAYS_90)

    assert (report["approvals"], report["tasks_deleted"], report["tasks_unlinked"]) == (1, 1, 1)
    assert not Approval.objects.exists() and not ApprovalDecision.objects.exists()
    assert not Approval.approvers.through.objects.exists() and not Approval.approver_groups.through.objects.exists()
    assert not Task.objects.filter(pk=done.pk).exists()
    still_open.refresh_from_db()
    assert (still_open.execution_id, still_open.step_run_id, still_open.status) == (None, None, "open")
    retry.refresh_from_db(), child.refresh_from_db()
    assert (retry.retry_of_id, child.parent_step_run_id) == (None, None)
    assert Group.objects.filter(pk=group.pk).exists()


def test_prune_never_touches_unfinished_runs(flow):
    unfinished = [run(flow, status, days_ago=200, steps=2) for status in Execution.UNFINISHED]
    parent = run(flow, "cancelled", days_ago=100, steps=1)  # its child still runs: it waits for it
    child = run(flow, "running", days_ago=100, parent_step_run=parent.step_runs.get())
    original = run(flow, "failed", days_ago=100)  # its retry is still going: kept, so the retry is not written
    retry = run(flow, "waiting", days_ago=1, retry_of=original)
    before = {e.pk: (e.status, e.parent_step_run_id, e.retry_of_id) for e in Execution.objects.all()}

    report = executions_prune(older_than=DAYS_90, batch_size=1)

    assert report["executions"] == 0
    assert {e.pk: (e.status, e.parent_step_run_id, e.retry_of_id) for e in Execution.objects.all()} == before
    assert all(exists(*unfinished, parent, child, original, retry))
    assert StepRun.objects.count() == 2 * len(Execution.UNFINISHED) + 1
    with pytest.raises(RetentionError, match="only finished runs"):
        executions_prune(older_than=DAYS_90, statuses=["succeeded", "running"])


def test_prune_filters_by_status(flow):
    runs = {status: run(flow, status, days_ago=100, steps=1) for status in Execution.FINISHED}
    output = prune("--older-than=90d", "--status=failed,timed_out")
    assert "Deleted 2 run(s)" in output
    assert {s: exists(e)[0] for s, e in runs.items()} == {
        "succeeded": True,
        "failed": False,
        "cancelled": True,
        "timed_out": False,
    }


def test_dry_run_counts_and_deletes_nothing(flow):
    old = run(flow, "succeeded", days_ago=100, steps=4)
    Task.objects.create(title="Open", execution=old)
    run(flow, "failed", days_ago=100, steps=1)
    run(flow, "succeeded", days_ago=1, steps=1)
    report = executions_prune(older_than=DAYS_90, dry_run=True)
    assert (report["executions"], report["step_runs"], report["tasks_unlinked"], report["dry_run"]) == (2, 5, 1, True)
    assert "Would delete 2 run(s)" in prune("--older-than=90d", "--dry-run")
    assert (Execution.objects.count(), StepRun.objects.count(), Task.objects.count()) == (3, 6, 1)


def test_prune_works_in_batches_of_the_given_size(flow):
    """5,000 step runs over 1,000 runs, 300 runs a batch: 4 short transactions, a fixed number of statements each."""
    workflow, version = flow
    old = timezone.now() - timedelta(days=100)
    runs = Execution.objects.bulk_create(
        Execution(workflow=workflow, version=version, status="succeeded", finished_at=old) for _ in range(1000)
    )
    Execution.objects.update(created_at=old)
    StepRun.objects.bulk_create(
        (StepRun(execution=e, step_key=f"s{n}", step_kind="action") for e in runs for n in range(5)), batch_size=2500
    )
    keep = run(flow, "succeeded", days_ago=1, steps=1)

    with CaptureQueriesContext(connection) as queries:
        report = executions_prune(older_than=DAYS_90, batch_size=300)

    assert (report["executions"], report["step_runs"], report["batches"]) == (1000, 5000, 4)
    statements = [q["sql"] for q in queries.captured_queries]
    deletes = [sql for sql in statements if sql.startswith('DELETE FROM "executions_execution"')]
    assert len(deletes) == 4
    assert max(sql.count(",") for sql in deletes) + 1 <= 300  # ids per DELETE
    transactions = [sql for sql in statements if sql.startswith("SAVEPOINT")]  # the test's transaction nests them
    assert len(transactions) == 5  # 4 batches and the one that finds nothing
    assert len(statements) <= 5 * 12  # per batch, not per run or step run
    assert (Execution.objects.get(), StepRun.objects.count()) == (keep, 1)


def dashboard() -> dict:
    return {
        "workflows": workflow_metrics(days=90),
        "overall": overall_metrics(days=90),
        "per_day": runs_per_day(days=90),
        "failing": failing_steps(days=90),
        "usage": model_usage(days=90),
    }


def agent_step(execution, tokens: int) -> None:
    StepRun.objects.create(
        execution=execution, step_key="think", step_kind="agent", status="succeeded", tokens_in=tokens, cost_usd=1
    )


def test_dashboard_numbers_match_the_kept_runs_after_pruning(flow):
    other = workflow_with_steps([log_step("a")], name="Other")
    other_flow = (other, workflow_activate(workflow=other))
    for days in range(0, 30, 3):  # the kept history: recent runs, and old ones still going or only just ended
        agent_step(run(flow, "succeeded", days_ago=days, duration_ms=1000 + days), tokens=10)
        run(other_flow, "failed", days_ago=days, duration_ms=500, steps=1, step_status="failed", error="late")
    run(flow, "running", days_ago=70, deadline_at=timezone.now() - timedelta(days=69))
    run(flow, "waiting", days_ago=80)
    run(flow, "timed_out", days_ago=60, finished_days_ago=20, duration_ms=99)
    kept = dashboard()
    for days in range(50, 89, 4):  # then runs that the prune takes, counted in the 90-day window until then
        agent_step(run(flow, "succeeded", days_ago=days, duration_ms=7000), tokens=1000)
        run(other_flow, "failed", days_ago=days, duration_ms=9000, steps=2, step_status="failed")
        run(flow, "timed_out", days_ago=days, duration_ms=1)
    assert dashboard() != kept

    executions_prune(older_than=timedelta(days=45))

    assert dashboard() == kept
    assert kept["overall"]["active"] == 2 and kept["usage"][flow[0].pk]["tokens_in"] == 100


def test_the_daily_beat_entry_runs_the_prune_with_the_retention_setting(flow, settings):
    entry = settings.CELERY_BEAT_SCHEDULE["faos-prune-executions"]
    assert entry["task"] == tasks.prune_executions.name
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab) and len(schedule.hour) == len(schedule.minute) == 1  # once a day
    assert schedule.day_of_week == set(range(7)) and schedule.day_of_month == set(range(1, 32))
    ModelEntry.from_entry("faos-prune-executions", app=app, **entry)  # what Beat's database scheduler stores
    stored = PeriodicTask.objects.select_related("crontab").get(name="faos-prune-executions")
    assert (stored.task, stored.crontab.hour, stored.expire_seconds) == (entry["task"], str(*schedule.hour), 6 * 3600)
    old, young = run(flow, "succeeded", days_ago=40, steps=1), run(flow, "failed", days_ago=20, steps=1)

    settings.FAOS_RETENTION_DAYS = 0  # keep forever
    app.tasks[entry["task"]].delay()
    assert exists(old, young) == [True, True]

    settings.FAOS_RETENTION_DAYS = 30
    app.tasks[entry["task"]].delay()
    assert exists(old, young) == [False, True]


@pytest.mark.parametrize(
    "value, expected", [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)), (" 7D ", timedelta(days=7))]
)
def test_older_than_parses_days_and_hours_and_refuses_nonsense(flow, value, expected):
    from executions.management.commands.prune_executions import parse_age

    assert parse_age(value) == expected
    for nonsense in ("90", "d", "-5d", "0d", "1.5d", "90 days", "3w", "soon", "", "99999999999d"):
        with pytest.raises(CommandError, match="--older-than"):
            prune(f"--older-than={nonsense}")
    with pytest.raises(CommandError, match="--older-than"):
        prune("--dry-run")
    with pytest.raises(CommandError, match="--status.*only finished runs"):
        prune("--older-than=90d", "--status=succeeded,running")
    with pytest.raises(CommandError, match="--batch-size"):
        prune("--older-than=90d", "--batch-size=0")
    assert "Would delete 0 run(s)" in prune("--older-than", value, "--dry-run")
