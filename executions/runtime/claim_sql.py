"""The claim's SQL: the UPDATE that takes a run's first runnable step (both claim paths build it here), and
PostgreSQL's claim of a worker of every step, which reads the run and takes that step in one statement.

    WITH e AS (the run), claimed AS (UPDATE the first runnable step, if the run is unfinished and not overdue),
         running AS (mark the run running, if a step was claimed and it was not), quick AS (no wait for the disk)
    SELECT the run, its workflow (and version, on a task's first claim), the claimed step (or NULLs)

The run is read as it was before the statement (`running` changes it after): the caller marks its copy running,
times out an overdue run and leaves a finished one, exactly as the two-statement claim does (claim.py, which a
worker of one lane and SQLite still use). Data-modifying CTEs always run to completion, read or not.
"""

from __future__ import annotations

from functools import lru_cache

from faos.db import QUICK_COMMIT_CTE, columns, models_from_row, prepared_cursor
from workflows.models import Workflow, WorkflowVersion

from ..models import Execution, StepRun
from .leases import lease_until


def claim_update(where: str = "", *, skip_locked: bool = True) -> str:
    """UPDATE the run's first runnable step (skipping rows others hold) to running under this worker's lease,
    RETURNING it; `where` narrows the steps. Named parameters: run, worker, lease, now."""
    steps = StepRun._meta.db_table
    locking = " FOR UPDATE SKIP LOCKED" if skip_locked else ""
    return (  # noqa: S608 - only constant names and placeholders
        f"UPDATE {steps} SET status = 'running', lease_owner = %(worker)s, worker = %(worker)s,"
        f" lease_expires_at = %(lease)s, claims = claims + 1, started_at = COALESCE(started_at, %(now)s)"
        f" WHERE id = (SELECT id FROM {steps} WHERE execution_id = %(run)s AND status = 'pending'"
        f" AND (wake_at IS NULL OR wake_at <= %(now)s){where} ORDER BY id LIMIT 1{locking}) RETURNING *"
    )


# The run is running from its first claim (and again after a wait), its first start kept, never over a cancel
# that just happened, and not written again when it already is. PostgreSQL's form of claim._mark_running (SQLite's
# path): change the two together (a test compares them). Parameters: run, now, open (Execution.UNFINISHED).
RUNNING_CTE = (
    f"running AS (UPDATE {Execution._meta.db_table} SET status = 'running', started_at = COALESCE(started_at, %(now)s)"
    " WHERE id = %(run)s AND status = ANY(%(open)s) AND (status <> 'running' OR started_at IS NULL)"
    " AND EXISTS (SELECT 1 FROM claimed) RETURNING 1)"
)
# The one-statement claim takes a step only while the run (its CTE `e`) is unfinished and not overdue.
_RUN_OPEN = (
    " AND EXISTS (SELECT 1 FROM e WHERE e.status = ANY(%(open)s)"
    " AND (e.deadline_at IS NULL OR e.deadline_at >= %(now)s))"
)


@lru_cache(maxsize=2)
def _sql(with_version: bool) -> str:
    version = f", {columns('v', WorkflowVersion)}" if with_version else ""
    join_version = f" JOIN {WorkflowVersion._meta.db_table} v ON v.id = e.version_id" if with_version else ""
    return (  # noqa: S608 - only constant names and placeholders
        f"WITH e AS (SELECT * FROM {Execution._meta.db_table} WHERE id = %(run)s),"
        f" claimed AS ({claim_update(_RUN_OPEN)}), {RUNNING_CTE}, quick AS ({QUICK_COMMIT_CTE})"
        f" SELECT {columns('e', Execution)}, {columns('w', Workflow)}{version}, {columns('c', StepRun)}"
        f" FROM e JOIN {Workflow._meta.db_table} w ON w.id = e.workflow_id{join_version}"
        f" LEFT JOIN claimed c ON true, quick"
    )


def read_and_claim(execution_id: int, worker: str, now, *, with_version: bool) -> tuple[Execution, StepRun | None]:
    """The run as it was (with its workflow, and its version if asked) and the step claimed for `worker`, if any."""
    params = {"run": execution_id, "worker": worker, "lease": lease_until(now), "now": now}
    params["open"] = [str(status) for status in Execution.UNFINISHED]
    with prepared_cursor() as cursor:
        cursor.execute(_sql(with_version), params)
        row = cursor.fetchone()
    if row is None:
        raise Execution.DoesNotExist(f"Execution matching id {execution_id} does not exist.")
    # The run's columns, then its workflow's, its version's (first claim only) and the claimed step's.
    models = (Execution, Workflow, WorkflowVersion, StepRun) if with_version else (Execution, Workflow, StepRun)
    built = models_from_row(row, models)
    execution, workflow, step_run = built[0], built[1], built[-1]
    execution.workflow = workflow
    if with_version:
        execution.version = built[2]
    return execution, step_run
