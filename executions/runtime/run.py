"""Run one attempt of a claimed step: its context and ports, in this thread (pure) or its own (lease, timeout)."""

from __future__ import annotations

from functools import partial

from django.db import connections
from django.utils import timezone

from integrations.agents import AgentRunner
from workflows import authz

from .. import replaying
from ..approvals import ApprovalRunner
from ..engine import interpreter
from ..engine.context import StepContext
from ..engine.definition import Definition
from ..engine.outcome import Outcome
from ..models import Execution, StepRun
from ..tasks_service import TaskRunner
from . import inline
from .leases import heartbeat_every, steprun_renew
from .ports import ActionRunner, EventFinder, SubWorkflows
from .state import RunState, build_variables


def attempt(
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
