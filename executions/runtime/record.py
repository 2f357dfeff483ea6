"""Record an attempt (and the pure steps run after it) under its lease, then hand the engine's decision to follow."""

from __future__ import annotations

import logging

from django.db import connection, transaction
from django.utils import timezone

from ..engine import interpreter
from ..engine.context import StepContext
from ..engine.definition import Definition
from ..engine.outcome import Decision, Outcome
from ..models import Execution, StepRun
from . import follow, inline, rows, run_log
from .state import RunState, locked_execution

logger = logging.getLogger(__name__)


@transaction.atomic
def steprun_complete(
    *,
    step_run_id: int,
    worker: str,
    outcome: Outcome,
    ctx: StepContext,
    state: RunState | None = None,
    chain: list | tuple = (),
    hold: str = "",
    lane: str | None = None,
) -> Decision | None:
    """Record an attempt's outcome (and the pure steps run after it) and act on the engine's decision.

    Ignored if the lease was lost. With `hold` (this worker's id) a single next step is inserted leased to it.
    """
    claimed = state.claimed if state is not None else None
    step_run = claimed if claimed is not None and claimed.pk == step_run_id else StepRun.objects.get(pk=step_run_id)
    finished = int(outcome.status != "waiting") + len(chain)
    changes = inline.variables_set(outcome, ctx, chain)
    execution = locked_execution(step_run.execution_id, state, finished=finished, variables=changes)
    if not _record(step_run, worker, outcome, ctx):
        now = StepRun.objects.filter(pk=step_run_id).values_list("status", "lease_owner").first() or ("gone", "")
        transaction.set_rollback(True)  # nor the counter, nor the variables, nor the chain
        if state is not None:
            state.forget()
        logger.warning("step run %s: lease lost (now %s, owner %s); result dropped", step_run_id, *now)
        return None
    run_log.step_outcome(step_run, execution, outcome.status)
    if state is not None:
        state.execution = execution
        if outcome.status != "waiting":
            state.recorded(step_run)
    if outcome.status == "waiting":
        return follow.park(execution, outcome, step_run)
    definition = _definition(execution, state)
    if chain:
        step_run, decision = inline.chain_record(execution, list(chain), state), chain[-1].decision
        for link in chain:
            run_log.step_outcome(link.run, execution, link.outcome.status, inline=True)  # never claimed: no line
    else:
        decision = interpreter.decide(definition, definition.step(step_run.step_key), outcome, attempt=step_run.attempt)
    follow.apply(execution, step_run, definition, decision, state, hold=hold, lane=lane)
    return decision


def _record(step_run: StepRun, worker: str, outcome: Outcome, ctx: StepContext) -> bool:
    """One UPDATE, made only while this worker still holds the lease (a waiting step goes back to pending)."""
    fields = inline.outcome_fields(step_run, outcome, ctx, timezone.now())
    if connection.vendor == "postgresql":
        if not rows.update_leased(step_run.pk, worker, fields):
            return False
    elif not StepRun.objects.filter(pk=step_run.pk, status=StepRun.Status.RUNNING, lease_owner=worker).update(**fields):
        return False
    for name, value in fields.items():
        setattr(step_run, name, value)
    return True


def _definition(execution: Execution, state: RunState | None) -> Definition:
    return state.definition if state is not None else Definition.from_dict(execution.version.definition)
