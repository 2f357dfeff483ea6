"""Claim: take one runnable step with one UPDATE and give this task its lease (or time the run out instead)."""

from __future__ import annotations

import logging

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from faos.db import QUICK_COMMIT_CTE

from ..engine.definition import Definition
from ..models import Execution, StepRun
from ..services import enqueue, execution_finish, timeout_message
from . import claim_sql, routing, run_log
from .leases import lease_until
from .state import RunState, locked_execution

logger = logging.getLogger(__name__)


def take_held(state: RunState):
    """The step the last completion inserted leased to this task, with the run as that completion saw it."""
    step_run, state.held = state.held, None
    if step_run is None:
        return None
    execution = state.execution
    if _overdue(execution, timezone.now()):
        return None
    return _handed_to_task(state, step_run, execution)


def _overdue(execution: Execution, now) -> bool:
    """A run past its deadline is timed out here rather than given another step."""
    if execution.deadline_at and now > execution.deadline_at:
        _time_out(execution.pk)
        return True
    return False


def _handed_to_task(state: RunState, step_run: StepRun, execution: Execution):
    """The step this task now holds the lease of, as execution_run runs it."""
    state.claimed = step_run
    run_log.step_event("claimed", step_run, execution, claims=step_run.claims)
    return step_run, execution, state.definition


def steprun_claim(*, execution_id: int, worker: str, state: RunState | None = None, lane: str | None = None):
    """Take one runnable step (of this lane's kind) with one UPDATE and give it a lease; None when there is none."""
    state, now = state or RunState(execution_id), timezone.now()
    one_statement = lane is None and connection.vendor == "postgresql"  # else read the run, then claim
    if one_statement:
        execution, step_run = claim_sql.read_and_claim(execution_id, worker, now, with_version=state.version is None)
        _adopt(state, execution)
    else:
        execution, step_run = _fresh_execution(execution_id, state), None
    if execution.is_finished or _overdue(execution, now):  # (the one-statement claim took nothing then)
        return None
    mark = execution.status != Execution.Status.RUNNING or execution.started_at is None
    if not one_statement:
        step_run = _claim_row(execution_id, worker, now, _lane_keys(state.definition, lane), mark_running=mark)
    if step_run is None:
        if lane is not None:
            _hand_over(execution, state.definition, lane, now)
        return None
    if mark:
        execution.status = Execution.Status.RUNNING
        execution.started_at = execution.started_at or now
    return _handed_to_task(state, step_run, execution)


def _hand_over(execution: Execution, definition: Definition, lane: str, now) -> None:
    """Runnable steps of the other kind wait for a worker on the other queue: tell one (after the commit)."""
    other = routing.AGENTS if lane == routing.STEPS else routing.STEPS
    if routing.claimable(execution.step_runs.runnable(now), definition, other).exists():
        logger.info("execution %s: next step is for the %s queue; handed over", execution.pk, other)
        enqueue(execution.pk, queue=other)


def _fresh_execution(execution_id: int, state: RunState) -> Execution:
    """The execution row as it is now (no lock: claiming a step row is the claim); version read once per task."""
    rows = Execution.objects.select_related("workflow")
    if state.version is None:
        rows = rows.select_related("version")
    execution = rows.get(pk=execution_id)
    _adopt(state, execution)
    return execution


def _adopt(state: RunState, execution: Execution) -> None:
    state.attach(execution)
    state.execution = execution


def _lane_keys(definition: Definition, lane: str | None) -> tuple[str, tuple[str, ...]]:
    """("IN"/"NOT IN", step keys) limiting a claim to its lane's steps; ("", ()) for a worker of every step."""
    if lane is None:
        return "", ()
    keys = tuple(sorted(routing.model_steps(definition)))
    return ("IN" if lane == routing.AGENTS else "NOT IN"), keys


def _claim_row(execution_id: int, worker: str, now, lane_keys, *, mark_running: bool) -> StepRun | None:
    """UPDATE … WHERE id = (the first runnable row, skipping locked ones) RETURNING the row: one statement, which
    on PostgreSQL also marks the run running when asked and lets its commit skip the wait for the disk (a claim lost
    in a database crash is only a lease that was never taken)."""
    operator, keys = lane_keys
    lane = {f"key{number}": key for number, key in enumerate(keys)}
    where = f" AND step_key {operator} ({', '.join(f'%({name})s' for name in lane)})" if keys else ""
    if operator == "IN" and not keys:
        where = " AND 1 = 0"  # an agents worker, and the definition has no model step
    claim = claim_sql.claim_update(where, skip_locked=connection.features.has_select_for_update_skip_locked)
    params = {"run": execution_id, "worker": worker, "lease": lease_until(now), "now": now, **lane}
    if connection.vendor != "postgresql":  # SQLite has no UPDATE inside WITH: two statements, one transaction
        with transaction.atomic():
            step_run = next(iter(StepRun.objects.raw(claim, params)), None)
            if step_run is not None and mark_running:
                _mark_running(execution_id, now)
        return step_run
    running = f", {claim_sql.RUNNING_CTE}" if mark_running else ""
    params["open"] = [str(status) for status in Execution.UNFINISHED]
    sql = f"WITH claimed AS ({claim}){running}, quick AS ({QUICK_COMMIT_CTE}) SELECT claimed.* FROM claimed, quick"
    return next(iter(StepRun.objects.raw(sql, params)), None)


def _time_out(execution_id: int) -> None:
    with transaction.atomic():
        execution = locked_execution(execution_id)
        if not execution.is_finished:
            execution_finish(execution=execution, status=Execution.Status.TIMED_OUT, error=timeout_message(execution))


def _mark_running(execution_id: int, now) -> None:
    """The run is running from its first claim (and again after a wait); never over a cancel that just happened."""
    # SQLite's claim path only; PostgreSQL's does it in the claim statement (claim_sql.RUNNING_CTE): change both.
    Execution.objects.filter(pk=execution_id, status__in=Execution.UNFINISHED).update(
        status=Execution.Status.RUNNING, started_at=Coalesce(F("started_at"), now)
    )
