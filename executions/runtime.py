"""The edge between the rows and the engine: claim a step, run it, record it, decide what follows."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from integrations import actions as action_registry
from integrations.agents import AgentRunner
from integrations.services import connection_credentials
from workflows import authz

from . import containers, routing, run_log, scopes
from .approvals import ApprovalRunner
from .containers import add_step
from .engine import interpreter
from .engine.context import StepContext, trigger_vars
from .engine.definition import Definition
from .engine.errors import StepError
from .engine.outcome import Decision, Outcome
from .leases import heartbeat_every, lease_until, steprun_renew
from .models import Event, Execution, StepRun
from .run_state import RunState, finished_count, locked_execution
from .services import SHORT_TIMER, enqueue, execution_finish, timeout_message, timer_horizon
from .tasks_service import TaskRunner

logger = logging.getLogger(__name__)


def worker_id(node: str | None = None) -> str:
    """Who holds a lease: Celery node (or host), process and a random part so restarts never reuse an id."""
    return f"{node or socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def execution_run(
    *, execution_id: int, worker: str | None = None, max_steps: int | None = None, lane: str | None = None
) -> int:
    """Run the execution's runnable steps one after another in this process; returns how many ran.

    A worker on one lane (routing.STEPS or AGENTS) claims only steps of its kind and hands the run over
    to the other queue when the next step is not; lane None runs every step.
    """
    worker = worker or worker_id()
    max_steps = max_steps or settings.FAOS_STEPS_PER_TASK
    state = RunState(execution_id)  # what this task already read: the version, the finished step runs
    for count in range(max_steps):
        claimed = steprun_claim(execution_id=execution_id, worker=worker, state=state, lane=lane)
        if claimed is None:
            return count
        step_run, execution, definition = claimed
        outcome, ctx = _run(step_run, execution, definition, state)
        steprun_complete(step_run_id=step_run.pk, worker=worker, outcome=outcome, ctx=ctx, state=state)
    enqueue_now(execution_id)  # long chains yield the worker to other runs, then carry on
    return max_steps


def enqueue_now(execution_id: int) -> None:
    with transaction.atomic():
        enqueue(execution_id)


@transaction.atomic
def steprun_claim(*, execution_id: int, worker: str, state: RunState | None = None, lane: str | None = None):
    """Lock the run, take one runnable step (of this lane's kind) and give it a lease; None when there is none."""
    execution = locked_execution(execution_id, state)
    if execution.is_finished:
        return None
    now = timezone.now()
    if execution.deadline_at and now > execution.deadline_at:
        execution_finish(execution=execution, status=Execution.Status.TIMED_OUT, error=timeout_message(execution))
        return None
    runnable = execution.step_runs.runnable(now).select_for_update(skip_locked=True).order_by("id")
    if state is not None and state.expected is not None:
        # Counted in this statement, which starts after the lock is held: every completion committed is seen.
        runnable = runnable.annotate(finished_runs=finished_count())
    if lane is not None:
        runnable = routing.claimable(runnable, _definition(execution, state), lane)
    step_run = runnable.first()
    if step_run is None:
        if lane is not None:
            routing.hand_over(execution, _definition(execution, state), lane, now)
        return None
    if state is not None:
        state.claimed_step(step_run, execution)
    definition = _definition(execution, state)
    step_run.status = StepRun.Status.RUNNING
    step_run.lease_owner = step_run.worker = worker  # the lease ends with the step; `worker` stays as a record
    step_run.lease_expires_at = lease_until(now)  # renewed while the step runs (see _run's heartbeat)
    step_run.claims += 1
    step_run.started_at = step_run.started_at or now
    step_run.save(update_fields=["status", "lease_owner", "worker", "lease_expires_at", "claims", "started_at"])
    _mark_running(execution, now)
    run_log.step_event("claimed", step_run, execution, claims=step_run.claims)
    return step_run, execution, definition


def _definition(execution: Execution, state: RunState | None) -> Definition:
    return state.definition if state is not None else Definition.from_dict(execution.version.definition)


def _mark_running(execution: Execution, now) -> None:
    if execution.status != Execution.Status.RUNNING or execution.started_at is None:
        execution.status = Execution.Status.RUNNING
        execution.started_at = execution.started_at or now
        execution.save(update_fields=["status", "started_at"])


def _run(
    step_run: StepRun, execution: Execution, definition: Definition, state: RunState | None = None
) -> tuple[Outcome, StepContext]:
    step = definition.step(step_run.step_key)
    ctx = StepContext(
        step=step,
        variables=build_variables(execution, step_run.scope, state),
        actions=ActionRunner(execution_id=execution.pk, actor=authz.actor_of(execution)),
        events=EventFinder(execution),
        workflows=SubWorkflows(execution, step_run),
        approvals=ApprovalRunner(execution, step_run),
        agents=AgentRunner(actor=authz.actor_of(execution)),
        tasks=TaskRunner(execution, step_run),
        cleanup=connections.close_all,  # runs in the step's thread: closes that thread's connections
        attempt=step_run.attempt,
        idempotency_key=step_run.idempotency_key,
        test_mode=execution.is_test,
        now=timezone.now(),
        timeout=interpreter.step_timeout(step),
        heartbeat=partial(steprun_renew, step_run_id=step_run.pk, worker=step_run.lease_owner),
        heartbeat_every=heartbeat_every(),
        resume=step_run.output if step_run.wake_at and isinstance(step_run.output, dict) else None,
        fast_forward=execution.fast_forward,
        extra={"send_reads": bool(execution.trigger_meta.get("send_reads"))},
    )
    return interpreter.run_step(step, ctx), ctx


def build_variables(execution: Execution, scope: str = "", state: RunState | None = None) -> dict:
    """The expression context: trigger, workflow, vars, each finished step's latest attempt, loop item."""
    variables = {
        "trigger": trigger_vars(
            execution.input,
            source=execution.trigger_source or execution.trigger_kind,
            timestamp=execution.created_at.isoformat(),
            headers=execution.trigger_meta.get("headers"),
        ),
        "workflow": {
            "id": execution.workflow_id,
            "name": execution.workflow.name,
            "version": execution.version.number,
            "execution_id": execution.pk,
            "started_at": (execution.started_at or execution.created_at).isoformat(),
            "is_test": execution.is_test,
        },
        "vars": execution.variables,
    }
    if state is None:  # one look, at the scopes this step can see
        state = RunState(execution.pk).load(execution, scopes.prefixes(scope))
    variables.update(state.step_variables(scope))  # a task's state was brought up to date by its claim
    return variables


class EventFinder:
    """The engine's EventPort: events of a type emitted since the run was created, oldest first."""

    def __init__(self, execution: Execution):
        self.execution = execution

    def since_start(self, event_type: str) -> list[dict]:
        """Only events that may reach this run: posted by someone who may run it, or about what its person sees."""
        from .events import audience

        rows = Event.objects.filter(type=event_type, created_at__gte=self.execution.created_at).order_by("id")[:100]
        actor = authz.actor_of(self.execution)
        rows = [e for e in rows.select_related("sender", "about") if audience(e.sender, e.about)(actor, self.execution)]
        return [event.as_variable() for event in rows]


class SubWorkflows:
    """The engine's WorkflowPort: child runs are ordinary executions linked to the waiting step."""

    def __init__(self, execution: Execution, step_run: StepRun):
        self.execution, self.step_run = execution, step_run

    def start(self, workflow, input, *, ctx):
        from workflows.models import Workflow

        from .services import execution_start

        actor = authz.actor_of(self.execution)
        # Only workflows the person behind this run may see; the others do not exist for it.
        visible = authz.visible(actor, Workflow)
        found = visible.filter(pk=workflow) if str(workflow).isdigit() else visible.filter(name=workflow)
        target = found.select_related("active_version").first()
        if target is None:
            raise StepError(f"no workflow named '{workflow}'")
        if not authz.may(actor, "run", target):
            raise StepError(f"permission error: {actor.get_username()} may not run workflow '{target.name}'")
        child = execution_start(
            workflow=target,
            input=input,
            user=actor,
            trigger_kind="sub_workflow",
            source=f"step {ctx.step.key} of #{self.execution.pk}",
            is_test=self.execution.is_test,
            idempotency_key=ctx.idempotency_key,
            parent_step_run=self.step_run,
        )
        return child.pk

    def status(self, execution_id):
        child = Execution.objects.filter(pk=execution_id).values("status", "output", "error").first()
        if child is None:
            raise StepError(f"sub-workflow run #{execution_id} no longer exists")
        return child


class ActionRunner:
    """The engine's ActionPort, backed by the integrations' action registry."""

    def __init__(self, *, execution_id: int, actor=None):
        self.execution_id, self.actor = execution_id, actor

    def run(self, action, inputs, *, ctx):
        action_ctx = action_registry.ActionContext(
            idempotency_key=ctx.idempotency_key,
            timeout=ctx.timeout,
            test_mode=ctx.test_mode,
            step_key=ctx.step.key,
            execution_id=self.execution_id,
            set_variables=ctx.extra.setdefault("set_vars", {}),
            send_reads=bool(ctx.extra.get("send_reads")),
            sent=ctx.extra.setdefault("sent", []),
            credentials=lambda service, name: connection_credentials(
                service=service, name=name, test_mode=ctx.test_mode, actor=self.actor
            ),
        )
        if ctx.input is inputs:  # the step run keeps its input: without the credentials typed into it
            ctx.input = action_registry.recorded_inputs(action, inputs)
        return action_registry.run_action(action, inputs, action_ctx)


@transaction.atomic
def steprun_complete(
    *, step_run_id: int, worker: str, outcome: Outcome, ctx: StepContext, state: RunState | None = None
) -> Decision | None:
    """Record an attempt's outcome and act on the engine's decision; ignored if the lease was lost."""
    claimed = state.claimed if state is not None else None
    step_run = claimed if claimed is not None and claimed.pk == step_run_id else StepRun.objects.get(pk=step_run_id)
    execution = locked_execution(step_run.execution_id, state)
    if not _record(step_run, worker, outcome, ctx):
        now = StepRun.objects.filter(pk=step_run_id).values_list("status", "lease_owner").first() or ("gone", "")
        logger.warning("step run %s: lease lost (now %s, owner %s); result dropped", step_run_id, *now)
        return None
    run_log.step_outcome(step_run, execution, outcome.status)
    if state is not None:
        state.wrote(step_run.pk, finished=outcome.status != "waiting")
    if ctx.extra.get("set_vars") and outcome.status == "succeeded":  # a refused `set` changes nothing
        execution.variables = {**execution.variables, **ctx.extra["set_vars"]}
        execution.save(update_fields=["variables"])
    if outcome.status == "waiting":
        return _park(execution, outcome, step_run)
    definition = _definition(execution, state)
    decision = interpreter.decide(definition, definition.step(step_run.step_key), outcome, attempt=step_run.attempt)
    _apply(execution, step_run, definition, decision, state)
    return decision


def _record(step_run: StepRun, worker: str, outcome: Outcome, ctx: StepContext) -> bool:
    """One UPDATE, made only while this worker still holds the lease (a waiting step goes back to pending)."""
    now = timezone.now()
    fields = {
        "status": StepRun.Status.SUCCEEDED if outcome.status == "succeeded" else StepRun.Status.FAILED,
        "input": ctx.input,
        "output": outcome.result,
        "requests": ctx.extra.get("sent") or None,
        "error": outcome.error,
        "error_detail": outcome.error_detail or None,
        "retryable": outcome.retryable if outcome.status == "failed" else None,
        "branch": outcome.branch or "",
        "finished_at": now,
        "duration_ms": int((now - step_run.started_at).total_seconds() * 1000),
        "lease_owner": "",
        "lease_expires_at": None,
    }
    usage = outcome.result.get("usage") if isinstance(outcome.result, dict) else None
    if isinstance(usage, dict):  # agent steps report model usage; kept as columns so totals are one query
        fields["tokens_in"], fields["tokens_out"] = (
            int(usage.get("input_tokens", 0)),
            int(usage.get("output_tokens", 0)),
        )
        fields["cost_usd"] = Decimal(str(usage.get("cost_usd", 0)))
    if outcome.status == "waiting":  # parked: the sweep (or an event, approval, task, child run) wakes it
        fields.update(
            status=StepRun.Status.PENDING,
            wake_at=outcome.wake_at,
            enqueued_at=None,
            finished_at=None,
            duration_ms=None,
            waiting_for=outcome.waiting_for or "",
        )
    held = StepRun.objects.filter(pk=step_run.pk, status=StepRun.Status.RUNNING, lease_owner=worker)
    if not held.update(**fields):
        return False
    for name, value in fields.items():
        setattr(step_run, name, value)
    return True


def _park(execution: Execution, outcome: Outcome, step_run: StepRun | None = None) -> Decision:
    """The run waits unless another step is running; paused time does not eat its timeout.

    A timer due before the sweep after next also gets a countdown message for its wake-up time, so a 2 s wait
    wakes after 2 s, not at the next sweep; the row stays the truth (the sweep wakes it if the message is lost).
    """
    if step_run is not None and outcome.wake_at and outcome.wake_at <= timezone.now() + timer_horizon():
        StepRun.objects.filter(pk=step_run.pk).update(enqueued_at=timezone.now())
        enqueue(execution.pk, wake_at=outcome.wake_at)
    fields = {"status": Execution.Status.WAITING}
    if execution.step_runs.filter(status=StepRun.Status.RUNNING).exists():
        fields = {}
    if execution.deadline_at and outcome.wake_at and not execution.version.definition.get("count_paused_time"):
        # Paused time does not count against the run's timeout: a 2-day wait in a 300 s workflow is fine.
        fields["deadline_at"] = execution.deadline_at + max(outcome.wake_at - timezone.now(), timedelta(0))
    if fields:
        Execution.objects.filter(pk=execution.pk).update(**fields)
    return Decision()


def _apply(
    execution: Execution, step_run: StepRun, definition: Definition, decision: Decision, state: RunState | None = None
) -> None:
    if decision.notify:
        _notify(execution, decision.error, step_run)
    if decision.finish:
        status = Execution.Status.SUCCEEDED if decision.finish == "succeeded" else Execution.Status.FAILED
        execution_finish(
            execution=execution,
            status=status,
            error=decision.error,
            error_step=step_run.step_key if decision.error else "",
            output=decision.output,
        )
        return
    if decision.retry_in is not None:
        _retry(execution, step_run, definition, decision.retry_in)
        return
    started = _follow(execution, definition, step_run, decision, state)
    for _ in range(started - 1):
        enqueue(execution.pk)  # siblings: one message each so other workers claim them concurrently
    # A step started just now (in this transaction) is still active: only a run that started none can be done.
    if not started and not execution.step_runs.active().exists():
        execution_finish(execution=execution, status=Execution.Status.SUCCEEDED, output=step_run.output)


def _retry(execution: Execution, step_run: StepRun, definition: Definition, retry_in: float) -> None:
    retry_in = 0 if execution.fast_forward else retry_in
    wake_at = timezone.now() + timedelta(seconds=retry_in)
    armed = retry_in <= SHORT_TIMER  # a countdown message for its time; longer back-offs are armed by the sweep
    add_step(
        execution,
        definition,
        step_run.step_key,
        scope=step_run.scope,
        attempt=step_run.attempt + 1,
        visit=step_run.visit,
        wake_at=wake_at,
        armed=armed,
    )
    if armed:
        enqueue(execution.pk, wake_at=wake_at)
    _pause_deadline(execution, retry_in)
    run_log.step_event("retrying", step_run, execution, attempt=step_run.attempt + 1, retry_in=retry_in)


def _follow(
    execution: Execution, definition: Definition, run: StepRun, decision: Decision, state: RunState | None = None
) -> int:
    """Start what the decision says (next steps, loop items, a join); returns how many steps were started."""
    for key in decision.next:
        add_step(execution, definition, key, scope=run.scope)
    started = len(decision.next)
    if decision.spawn:
        containers.spawn_items(execution, definition, run, decision.spawn, decision.spawn_delay)
        started += 0 if decision.spawn_delay else len(decision.spawn)
    if decision.join:
        container_run, joined = containers.lane_ended(execution, definition, run, decision.join)
        if state is not None:
            state.wrote(container_run.pk)  # its output (the join's state) changed
        started += _follow(execution, definition, container_run, joined, state)
    if decision.container_done:
        after = interpreter.continue_after(definition, definition.step(run.step_key))
        started += _follow(execution, definition, run, after, state)
    return started


def _pause_deadline(execution: Execution, seconds: float) -> None:
    """A back-off wait is paused time too: unless the workflow counts it, it does not eat the timeout."""
    if execution.deadline_at and not execution.version.definition.get("count_paused_time"):
        Execution.objects.filter(pk=execution.pk).update(deadline_at=execution.deadline_at + timedelta(seconds=seconds))


def _notify(execution: Execution, error: str, step_run: StepRun) -> None:
    from .outbox import OWNER_FAILURE, outbox_add

    payload = {"execution_id": execution.pk, "step_error": error}  # step errors are stored redacted
    outbox_add(kind=OWNER_FAILURE, payload=payload, key=f"step_run:{step_run.pk}:{step_run.attempt}:notify")
