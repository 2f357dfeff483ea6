"""Database work per step of a linear run, in-process: few queries, and neither queries nor rows grow with length.

Every query of a run (start, each task's claims, variables and completions, the finish) is counted, and so is
every row the runtime reads back. Reloading all finished step runs for each step kept the query count flat but
read O(n) rows per step (O(n^2) per run); the rows-per-step check below catches that.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions import runtime
from executions.models import Execution
from executions.runtime import run
from executions.runtime.state import RunState
from executions.services import execution_start
from tests.factories import active_workflow, log_step

pytestmark = pytest.mark.django_db(transaction=True)

# Measured: 11.80 queries per step for 20 steps (start and finish included) with a claim and a completion per
# step; 12.15 with the outbox. Runtime v2 (complete-and-continue, pure steps inline and written in one INSERT, a
# fresh run's first claim reading nothing back, the run's own task delivering its event): 1.60 for 20 `log` steps,
# i.e. 32 statements for the whole run, BEGIN/COMMIT and SAVEPOINTs included. Steps that call out cost 5 each
# (tests/executions/runtime/test_claim_and_record.py).
QUERIES_PER_STEP = 2.0


class _CountingCursor:
    """A DB-API cursor that counts the rows fetched through it."""

    def __init__(self, cursor, counter):
        self._cursor, self._counter = cursor, counter

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __iter__(self):
        for row in self._cursor:
            self._counter.rows += 1
            yield row

    def fetchone(self):
        row = self._cursor.fetchone()
        self._counter.rows += row is not None
        return row

    def fetchmany(self, *args, **kwargs):
        rows = self._cursor.fetchmany(*args, **kwargs)
        self._counter.rows += len(rows)
        return rows

    def fetchall(self):
        rows = self._cursor.fetchall()
        self._counter.rows += len(rows)
        return rows


class RowCounter:
    """An execute wrapper: every cursor that runs a query fetches its rows through a _CountingCursor."""

    def __init__(self):
        self.rows = 0

    def __call__(self, execute, sql, params, many, context):
        wrapper = context["cursor"]
        if not isinstance(wrapper.cursor, _CountingCursor):
            wrapper.cursor = _CountingCursor(wrapper.cursor, self)
        return execute(sql, params, many, context)


def run_linear(steps: int) -> tuple[float, float]:
    """(queries, rows read) per step for one run of a `steps`-long chain of log steps reading earlier results."""
    workflow = active_workflow(
        [log_step("s0", "{{trigger.name}}")]
        + [log_step(f"s{i}", f"{{{{s{i - 1}.result.message}}}} {i}") for i in range(1, steps)]
    )
    rows = RowCounter()
    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(rows):
        execution = execution_start(workflow=workflow, input={"name": "Ada"})  # tasks run eagerly, in-process
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    assert execution.step_runs.count() == steps
    assert execution.output["message"] == "Ada " + " ".join(str(i) for i in range(1, steps))
    return len(queries) / steps, rows.rows / steps


def test_a_20_step_run_stays_within_the_query_budget():
    queries, _ = run_linear(20)
    assert queries <= QUERIES_PER_STEP, f"{queries:.2f} queries per step (budget {QUERIES_PER_STEP})"


def test_queries_and_rows_per_step_do_not_grow_with_the_length_of_the_run():
    short_queries, short_rows = run_linear(10)
    long_queries, long_rows = run_linear(40)
    # The start and the finish are paid once per run, so a longer run may only cost less per step.
    assert long_queries <= short_queries, (
        f"queries per step: {short_queries:.2f} for 10 steps, {long_queries:.2f} for 40"
    )
    assert long_rows <= short_rows, f"rows read per step: {short_rows:.2f} for 10 steps, {long_rows:.2f} for 40"


def test_a_result_another_worker_records_below_what_this_task_loaded_is_still_read(no_tasks):
    """This task loads a2 (a later id than b), then another worker finishes b: the claim's count reloads."""
    fork = {"key": "fork", "name": "Fork", "kind": "parallel", "config": {"branches": [["a1", "a2", "a3"], ["b"]]}}
    workflow = active_workflow(
        [
            fork,
            log_step("a1"),
            log_step("a2"),
            log_step("a3"),
            log_step("b", "from b"),
            log_step("after", "{{b.result.message}} {{a3.status}}"),
        ]
    )
    execution = execution_start(workflow=workflow, input={})
    state = RunState(execution.pk)  # this task's memory; the other worker has none

    def claim(worker, state=None):
        step_run, claimed, definition = runtime.steprun_claim(execution_id=execution.pk, worker=worker, state=state)
        return step_run, run.attempt(step_run, claimed, definition, state)

    def complete(worker, claimed, state=None):
        step_run, (outcome, ctx) = claimed
        runtime.steprun_complete(step_run_id=step_run.pk, worker=worker, outcome=outcome, ctx=ctx, state=state)
        return step_run.step_key

    assert [complete("task", claim("task", state), state) for _ in range(2)] == ["fork", "a1"]
    other = claim("other")  # b, the lowest runnable id
    assert [complete("task", claim("task", state), state) for _ in range(2)] == ["a2", "a3"]
    assert complete("other", other) == "b"  # the join is complete: `after` starts
    assert complete("task", claim("task", state), state) == "after"
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    assert execution.step_runs.get(step_key="after").input == {"message": "from b succeeded"}


def test_a_container_state_this_task_changed_is_read_again(no_tasks):
    """One task runs a whole sequential loop: each lane's end rewrites the loop's output, which `summary` reads."""
    each = {"key": "each", "name": "Each", "kind": "loop", "config": {"items": "{{trigger.names}}", "steps": ["hi"]}}
    summary = log_step("summary", "{{each.result.results[0].message}}, {{each.result.results[1].message}}")
    workflow = active_workflow([each, log_step("hi", "hi {{item}}"), summary])
    execution = execution_start(workflow=workflow, input={"names": ["Ada", "Bob"]})
    assert runtime.execution_run(execution_id=execution.pk) == 4  # each, hi ×2, summary: all in this task
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    assert execution.step_runs.get(step_key="summary").input == {"message": "hi Ada, hi Bob"}
