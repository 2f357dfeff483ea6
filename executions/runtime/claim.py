"""The edge between the rows and the engine: claim a step, run it, record it, decide what follows."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from functools import partial

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from faos.db import QUICK_COMMIT_CTE
from integrations.agents import AgentRunner
from workflows import authz

from . import follow, inline, replaying, routing, run_log
from .approvals import ApprovalRunner
from .engine import interpreter
from .engine.context import StepContext
from .engine.definition import Definition
from .engine.errors import StepError  # noqa: F401 - re-exported for callers that import it from here
from .engine.outcome import Decision, Outcome
from .leases import heartbeat_every, lease_until, steprun_renew
from .models import Execution, StepRun
from .ports import ActionRunner, EventFinder, SubWorkflows
from .run_state import RunState, build_variables, locked_execution
from .services import enqueue, execution_finish, timeout_message
from .tasks_service import TaskRunner

logger = logging.getLogger(__name__)


def worker_id(node: str | None = None) -> str:
    """Who holds a lease: Celery node (or host), process and a random part so restarts never reuse an id."""
    return f"{node or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def execution_run(
    *, execution_id: int, worker: str | None = None, max_steps: int | None = None, lane: str | None = None
) -> int:
    """Run the execution's runnable steps one after another in this process; returns how many ran.

    A step that finishes with exactly one step after it inserts that step already leased to this task (no
    commit-then-claim round trip), and pure steps after it run at once and are recorded with it. A worker on one
    lane (routing.STEPS or AGENTS) claims only steps of its kind and hands the run over when the next is not.
    """
    worker = worker or worker_id()
    budget = max_steps or settings.FAOS_STEPS_PER_TASK
    state = RunState(execution_id)  # what this task already read: the version, what its steps may read
    ran = 0
    while ran < budget:
        claimed = _take_held(state) or steprun_claim(execution_id=execution_id, worker=worker, state=state, lane=lane)
        if claimed is None:
            return ran
        step_run, execution, definition = claimed
        outcome, ctx = _run(step_run, execution, definition, state)
        chain = _chain(step_run, outcome, ctx, execution, state, limit=budget - ran - 1, worker=worker, lane=lane)
        ran += 1 + len(chain)
        hold = worker if ran < budget else ""
        steprun_complete(
            step_run_id=step_run.pk,
            worker=worker,
            outcome=outcome,
            ctx=ctx,
            state=state,
            chain=chain,
            hold=hold,
            lane=lane,
        )
        if state.execution is not None and state.execution.is_finished:
            return ran  # the last step ended the run: nothing is left to claim
    enqueue_now(execution_id)  # long chains yield the worker to other runs, then carry on
    return ran


def _chain(step_run, outcome, ctx, execution, state, *, limit: int, worker: str, lane: str | None) -> list:
    """The pure steps after this one, run now (not on the agents lane, whose workers leave them to others)."""
    if lane == routing.AGENTS or outcome.status == "waiting" or limit <= 0:
        return []
    return inline.chain_after(step_run, outcome, ctx, execution, state, limit=limit, worker=worker, run=_run)


def _take_held(state: RunState):
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


def enqueue_now(execution_id: int) -> None:
    with transaction.atomic():
        enqueue(execution_id)


def steprun_claim(*, execution_id: int, worker: str, state: RunState | None = None, lane: str | None = None):
    """Take one runnable step (of this lane's kind) with one UPDATE and give it a lease; None when there is none."""
    state = state or RunState(execution_id)
    execution = _fresh_execution(execution_id, state)
    if execution.is_finished:
        return None
    now = timezone.now()
    if _overdue(execution, now):
        return None
    mark = execution.status != Execution.Status.RUNNING or execution.started_at is None
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
    state.attach(execution)
    state.execution = execution
    return execution


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
    table = StepRun._meta.db_table
    operator, keys = lane_keys
    where_lane = f" AND step_key {operator} ({', '.join(['%s'] * len(keys))})" if keys else ""
    if operator == "IN" and not keys:
        where_lane = " AND 1 = 0"  # an agents worker, and the definition has no model step
    postgres = connection.vendor == "postgresql"
    locking = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    claim = (  # noqa: S608 - only constant names and placeholders
        f"UPDATE {table} SET status = 'running', lease_owner = %s, worker = %s, lease_expires_at = %s,"
        f" claims = claims + 1, started_at = COALESCE(started_at, %s)"
        f" WHERE id = (SELECT id FROM {table} WHERE execution_id = %s AND status = 'pending'"
        f" AND (wake_at IS NULL OR wake_at <= %s){where_lane} ORDER BY id LIMIT 1{locking}) RETURNING *"
    )
    params = [worker, worker, lease_until(now), now, execution_id, now, *keys]
    if not postgres:  # SQLite has no UPDATE inside WITH: two statements, one transaction
        with transaction.atomic():
            step_run = next(iter(StepRun.objects.raw(claim, params)), None)
            if step_run is not None and mark_running:
                _mark_running(execution_id, now)
        return step_run
    running = _RUNNING if mark_running else ""
    sql = f"WITH claimed AS ({claim}){running}, quick AS ({QUICK_COMMIT_CTE}) SELECT claimed.* FROM claimed, quick"
    extra = [now, execution_id, [str(status) for status in Execution.UNFINISHED]] if mark_running else []
    return next(iter(StepRun.objects.raw(sql, [*params, *extra])), None)


# The run is running from its first claim (and again after a wait); never over a cancel that just happened.
# PostgreSQL's form of _mark_running (SQLite's claim path): change the two together (a test compares them).
_RUNNING = (
    f", running AS (UPDATE {Execution._meta.db_table} SET status = 'running', started_at = COALESCE(started_at, %s)"
    f" WHERE id = %s AND status = ANY(%s) AND EXISTS (SELECT 1 FROM claimed) RETURNING 1)"
)


def _time_out(execution_id: int) -> None:
    with transaction.atomic():
        execution = locked_execution(execution_id)
        if not execution.is_finished:
            execution_finish(execution=execution, status=Execution.Status.TIMED_OUT, error=timeout_message(execution))


def _definition(execution: Execution, state: RunState | None) -> Definition:
    return state.definition if state is not None else Definition.from_dict(execution.version.definition)


def _mark_running(execution_id: int, now) -> None:
    """The run is running from its first claim (and again after a wait); never over a cancel that just happened."""
    # SQLite's claim path only; PostgreSQL's does this in the claim statement (_RUNNING): change the two together.
    Execution.objects.filter(pk=execution_id, status__in=Execution.UNFINISHED).update(
        status=Execution.Status.RUNNING, started_at=Coalesce(F("started_at"), now)
    )


def _run(
    step_run: StepRun, execution: Execution, definition: Definition, state: RunState | None = None
) -> tuple[Outcome, StepContext]:
    """Run one attempt: a pure step in this thread, any other in its own thread with a lease and a timeout."""
    step = definition.step(step_run.step_key)
    pure = inline.is_inline(step)
    actor = authz.actor_of(execution)
    original = replaying.original_of(execution)
    tape = replaying.Tape(original) if original else None
    ctx = StepContext(
        step=step,
        variables=build_variables(execution, step_run.scope, state),
        workflows=SubWorkflows(execution, step_run),
        approvals=ApprovalRunner(execution, step_run),
        tasks=TaskRunner(execution, step_run),
        **_ports(execution, actor, tape),
        cleanup=None if pure else connections.close_all,  # runs in the step's thread: closes its connections
        attempt=step_run.attempt,
        idempotency_key=step_run.idempotency_key,
        test_mode=execution.is_test,
        now=timezone.now(),
        timeout=interpreter.step_timeout(step),
        heartbeat=None if pure else partial(steprun_renew, step_run_id=step_run.pk, worker=step_run.lease_owner),
        heartbeat_every=heartbeat_every(),
        resume=step_run.output if step_run.wake_at and isinstance(step_run.output, dict) else None,
        fast_forward=execution.fast_forward,
        extra={"send_reads": bool(execution.trigger_meta.get("send_reads"))},
    )
    answered = replaying.answered(tape, step, step_run, ctx) if tape is not None else None
    if answered is not None:
        return answered, ctx
    return (interpreter.run_inline if pure else interpreter.run_step)(step, ctx), ctx


def _ports(execution: Execution, actor, tape) -> dict:
    """Actions, agents and events of a run; a replay run's first look at what its original met (replaying.py)."""
    actions = ActionRunner(execution_id=execution.pk, actor=actor)
    agents, events = AgentRunner(actor=actor), EventFinder(execution)
    if tape is None:
        return {"actions": actions, "agents": agents, "events": events}
    send_reads = bool(execution.trigger_meta.get("send_reads"))
    return {
        "actions": replaying.ReplayActions(actions, tape, send_reads=send_reads),
        "agents": replaying.ReplayAgents(agents, tape),
        "events": replaying.ReplayEvents(tape),
    }


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
    held = StepRun.objects.filter(pk=step_run.pk, status=StepRun.Status.RUNNING, lease_owner=worker)
    if not held.update(**fields):
        return False
    for name, value in fields.items():
        setattr(step_run, name, value)
    return True
