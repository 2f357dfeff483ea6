"""Runtime v2 in-process: a step hands its successor to the same task, pure steps run inline and are written in
one batch, and the work per step does not grow with the length of the run."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions import runtime
from executions.models import Execution, StepRun
from executions.runtime import claim, inline, run, run_log
from executions.runtime.sweep import sweep
from executions.services import execution_cancel, execution_start
from integrations.actions.log import LogAction
from tests.factories import active_workflow, log_step
from tests.vendor import POSTGRESQL, postgresql_only

pytestmark = pytest.mark.django_db(transaction=True)


def _linear(steps: int):
    return active_workflow([log_step("s0", "{{trigger.name}}")] + [log_step(f"s{i}", f"{i}") for i in range(1, steps)])


def _statements(queries, verb: str, table: str = "executions_steprun") -> int:
    return sum(1 for q in queries if q["sql"].startswith(verb) and table in q["sql"].split("(")[0])


def test_a_step_with_one_successor_inserts_it_leased_to_the_same_task_so_there_is_no_second_claim(
    no_tasks, monkeypatch
):
    monkeypatch.setattr(LogAction, "pure", False)  # every step its own completion
    execution = execution_start(workflow=_linear(5), input={"name": "Ada"})
    claims = []
    real_claim = claim.steprun_claim
    monkeypatch.setattr(claim, "steprun_claim", lambda **kw: claims.append(1) or real_claim(**kw))
    assert runtime.execution_run(execution_id=execution.pk, worker="w1") == 5
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    assert len(claims) == 1  # the first step only: each later one arrived leased to w1, and the last ended the run
    runs = execution.step_runs.order_by("id")
    assert [(r.status, r.claims, r.worker) for r in runs] == [("succeeded", 1, "w1")] * 5
    assert execution.steps_done == 5


@postgresql_only("SQLite has no UPDATE inside WITH: its claim is two statements (compared in the test below)")
def test_a_claim_is_one_statement_that_returns_the_row_and_marks_the_run_running(no_tasks):
    execution = execution_start(workflow=_linear(1), input={"name": "Ada"})
    with CaptureQueriesContext(connection) as queries:
        step_run, _, _ = runtime.steprun_claim(execution_id=execution.pk, worker="w1")
    [claim] = [q["sql"] for q in queries]  # the run as it is now and its claim, together
    assert claim.startswith("WITH e AS (SELECT * FROM executions_execution WHERE id =")
    assert "claimed AS (UPDATE executions_steprun" in claim and "LIMIT 1 FOR UPDATE SKIP LOCKED" in claim
    assert "UPDATE executions_execution SET status = 'running'" in claim and "synchronous_commit" in claim
    execution.refresh_from_db()
    assert execution.status == Execution.Status.RUNNING and execution.started_at is not None
    assert (step_run.status, step_run.lease_owner, step_run.claims) == ("running", "w1", 1)
    assert runtime.steprun_claim(execution_id=execution.pk, worker="w2") is None  # nothing else is runnable


def _claimed_state(execution_id: int, now, *, as_sqlite: bool = False) -> tuple:
    """Claim the run's first step as it is at `now` (by SQLite's path if asked); the rows as they are after."""
    with pytest.MonkeyPatch.context() as patch:
        if as_sqlite:
            patch.setattr(claim, "connection", SimpleNamespace(vendor="sqlite", features=connection.features))
        step_run = claim._claim_row(execution_id, "w1", now, ("", ()), mark_running=True)
    step_run.refresh_from_db()
    execution = Execution.objects.get(pk=execution_id)
    step = (step_run.status, step_run.lease_owner, step_run.worker, step_run.lease_expires_at, step_run.claims)
    return (*step, step_run.started_at, execution.status, execution.started_at)


def _claim_outcome(execution: Execution, lane: str | None, before) -> tuple:
    """Claim through steprun_claim on `lane`; what it returned and the rows after (times as kept / new / none)."""
    claimed = runtime.steprun_claim(execution_id=execution.pk, worker="w1", lane=lane)
    step, run = execution.step_runs.get(), Execution.objects.get(pk=execution.pk)

    def when(moment):
        return "none" if moment is None else "kept" if moment == before else "new"

    returned = None if claimed is None else (claimed[0].pk, claimed[0].status, claimed[1].status, claimed[2].start)
    rows = (step.status, step.lease_owner, step.claims, when(step.started_at), run.status, when(run.started_at))
    return returned and returned[1:], rows


@postgresql_only("the one-statement read-and-claim is PostgreSQL's (claim_sql.py)")
@pytest.mark.parametrize("state", ["queued", "waiting", "running", "cancelled", "overdue"])
def test_the_one_statement_claim_does_what_the_read_then_claim_of_a_lane_worker_does(no_tasks, state):
    """A worker of every step reads the run and claims in one statement; a worker of one lane (routing.STEPS) reads,
    then claims: the same runs are claimed, marked running, timed out or left alone."""
    before = timezone.now() - timedelta(hours=1)
    runs = [execution_start(workflow=_linear(1), input={"name": "Ada"}) for _ in range(2)]
    fields = {
        "queued": {"status": "queued", "started_at": None},
        "waiting": {"status": "waiting", "started_at": before},
        "running": {"status": "running", "started_at": before},
        "cancelled": {"status": "cancelled", "started_at": None},
        "overdue": {"status": "running", "started_at": before, "deadline_at": before},
    }[state]
    Execution.objects.filter(pk__in=[run.pk for run in runs]).update(**fields)
    one_statement, read_then_claim = _claim_outcome(runs[0], None, before), _claim_outcome(runs[1], "steps", before)
    assert one_statement == read_then_claim
    claimed = state not in ("cancelled", "overdue")
    assert one_statement[1][0] == ("running" if claimed else "cancelled" if state == "overdue" else "pending")


@postgresql_only("on SQLite every claim takes the SQLite path")
@pytest.mark.parametrize("status", ["queued", "waiting", "cancelled"])
def test_sqlites_two_statement_claim_leaves_the_rows_as_postgresqls_one_statement_claim_does(no_tasks, status):
    """_mark_running and claim_sql.RUNNING_CTE say the same thing twice: both mark the run running once, keep its
    first start and never overwrite a cancel. The SQLite branch runs here on PostgreSQL, only the vendor test told
    otherwise."""
    before = timezone.now() - timedelta(hours=1)
    runs = [execution_start(workflow=_linear(1), input={"name": "Ada"}) for _ in range(2)]
    started = before if status == "waiting" else None
    Execution.objects.filter(pk__in=[run.pk for run in runs]).update(status=status, started_at=started)
    now = timezone.now()
    one_statement = _claimed_state(runs[0].pk, now)
    two_statements = _claimed_state(runs[1].pk, now, as_sqlite=True)
    assert two_statements == one_statement
    expected = "cancelled" if status == "cancelled" else "running"
    assert one_statement[-2:] == (expected, started or (None if status == "cancelled" else now))


def test_pure_steps_run_inline_and_are_written_with_one_insert_each_attempt_still_a_row(no_tasks):
    execution = execution_start(workflow=_linear(10), input={"name": "Ada"})
    with CaptureQueriesContext(connection) as queries:
        assert runtime.execution_run(execution_id=execution.pk) == 10
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    assert _statements(queries.captured_queries, "INSERT INTO") == 1  # s1…s9 in one batch (s0 existed)
    runs = list(execution.step_runs.order_by("id"))
    assert [r.step_key for r in runs] == [f"s{i}" for i in range(10)]
    assert all(r.status == "succeeded" and r.duration_ms is not None and r.finished_at for r in runs)
    assert runs[0].input == {"message": "Ada"} and runs[9].output["message"] == "9"


def test_a_crash_before_the_batch_commits_writes_none_of_it_and_the_replay_runs_each_step_once(no_tasks, monkeypatch):
    execution = execution_start(workflow=_linear(4), input={"name": "Ada"})

    def crash(*args, **kwargs):
        raise SystemExit("worker killed before the commit")

    with monkeypatch.context() as patch:
        patch.setattr(inline, "chain_record", crash)
        with pytest.raises(SystemExit):
            runtime.execution_run(execution_id=execution.pk, worker="dying")
    first = execution.step_runs.get()  # nothing of the chain was written; s0 is still leased to the dead worker
    assert (first.step_key, first.status, first.lease_owner) == ("s0", "running", "dying")
    assert sweep(now=first.lease_expires_at + timedelta(seconds=1)).leases_recovered == [first.pk]
    assert runtime.execution_run(execution_id=execution.pk, worker="next") == 4
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED and execution.steps_done == 4
    assert sorted(execution.step_runs.values_list("step_key", flat=True)) == ["s0", "s1", "s2", "s3"]


def test_a_run_cancelled_while_its_held_step_runs_drops_that_result_and_starts_nothing_more(no_tasks, monkeypatch):
    monkeypatch.setattr(LogAction, "pure", False)
    execution = execution_start(workflow=_linear(4), input={"name": "Ada"})
    real_attempt = run.attempt

    def attempt(step_run, *args, **kwargs):
        if step_run.step_key == "s1":
            execution_cancel(execution=Execution.objects.get(pk=execution.pk))
        return real_attempt(step_run, *args, **kwargs)

    monkeypatch.setattr(run, "attempt", attempt)
    runtime.execution_run(execution_id=execution.pk, worker="w1")
    execution.refresh_from_db()
    assert execution.status == Execution.Status.CANCELLED
    assert list(execution.step_runs.order_by("id").values_list("step_key", "status")) == [
        ("s0", "succeeded"),
        ("s1", "cancelled"),
    ]


def _queries_per_step(monkeypatch, execution_id: int, steps: int) -> list[int]:
    """The queries each step of one run costs, all in one task: counted between the steps' logged outcomes."""
    marks, real = [], run_log.step_outcome
    with CaptureQueriesContext(connection) as queries:
        monkeypatch.setattr(run_log, "step_outcome", lambda *a, **kw: (marks.append(len(queries)), real(*a, **kw)))
        runtime.execution_run(execution_id=execution_id, max_steps=steps + 1)
    return [later - earlier for earlier, later in zip(marks, marks[1:], strict=False)]


def test_the_queries_for_step_10_and_step_1000_of_one_run_are_the_same(no_tasks, monkeypatch):
    monkeypatch.setattr(LogAction, "pure", False)  # each step its own completion: the costlier path
    steps = [log_step(f"s{i}", f"{{{{s{i - 1}.result.message}}}}" if i else "go") for i in range(1001)]
    execution = execution_start(workflow=active_workflow(steps), input={})
    per_step = _queries_per_step(monkeypatch, execution.pk, 1001)
    # BEGIN, the execution's lock and counter, the record, the next step's INSERT, COMMIT: whatever the step's place.
    # (SQLite has no UPDATE … RETURNING * of the locked run here: it reads the run back in one more statement.)
    assert per_step[9] == per_step[999] == (5 if POSTGRESQL else 6), per_step[:12]
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED and execution.output["message"] == "go"
    assert StepRun.objects.filter(execution=execution, claims=1).count() == 1001
