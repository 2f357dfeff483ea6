"""After a step is recorded: park it, retry it, or start what the engine decided, in the recording transaction."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .. import containers, services
from ..containers import add_step
from ..engine import interpreter
from ..engine.definition import Definition
from ..engine.outcome import Decision, Outcome
from ..models import Approval, Execution, StepRun
from . import routing, run_log
from .state import RunState


def park(execution: Execution, outcome: Outcome, step_run: StepRun | None = None) -> Decision:
    """The run waits unless another step is running; paused time does not eat its timeout.

    A timer due before the sweep after next also gets a countdown message for its wake-up time, so a 2 s wait
    wakes after 2 s, not at the next sweep; the row stays the truth (the sweep wakes it if the message is lost).
    """
    if step_run is not None and outcome.wake_at and outcome.wake_at <= timezone.now() + services.timer_horizon():
        StepRun.objects.filter(pk=step_run.pk).update(enqueued_at=timezone.now())
        services.enqueue(execution.pk, wake_at=outcome.wake_at)
    if step_run is not None and outcome.waiting_for == "approval":
        _wake_if_decided(execution, step_run, outcome)
    fields = {"status": Execution.Status.WAITING}
    if execution.step_runs.filter(status=StepRun.Status.RUNNING).exists():
        fields = {}
    if execution.deadline_at and outcome.wake_at and not execution.version.definition.get("count_paused_time"):
        # Paused time does not count against the run's timeout: a 2-day wait in a 300 s workflow is fine.
        fields["deadline_at"] = execution.deadline_at + max(outcome.wake_at - timezone.now(), timedelta(0))
    if fields:
        Execution.objects.filter(pk=execution.pk).update(**fields)
    return Decision()


def _wake_if_decided(execution: Execution, step_run: StepRun, outcome: Outcome) -> None:
    """An approval decided while its step was still running found no parked step to wake (the decision wakes only
    a parked one), so the step would sleep until its due time, or for ten years. The step row is already updated
    and locked by this transaction: a decision that commits after this check waits for that lock, then finds the
    step parked and wakes it itself."""
    approval_id = (outcome.result or {}).get("approval_id") if isinstance(outcome.result, dict) else None
    if approval_id and Approval.objects.filter(pk=approval_id).exclude(status=Approval.Status.PENDING).exists():
        services.steprun_wake(step_run_id=step_run.pk, waiting_for="approval", execution_id=execution.pk)


def apply(
    execution: Execution,
    step_run: StepRun,
    definition: Definition,
    decision: Decision,
    state: RunState | None = None,
    *,
    hold: str = "",
    lane: str | None = None,
) -> None:
    if decision.notify:
        _notify(execution, decision.error, step_run)
    if decision.finish:
        status = Execution.Status.SUCCEEDED if decision.finish == "succeeded" else Execution.Status.FAILED
        services.execution_finish(
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
    if hold and _holdable(definition, decision, lane):
        _start_held(execution, definition, step_run.scope, decision.next[0], state, hold)
        return
    started = _follow(execution, definition, step_run, decision, state)
    for _ in range(started - 1):
        services.enqueue(execution.pk)  # siblings: one message each so other workers claim them concurrently
    # A step started just now (in this transaction) is still active: only a run that started none can be done,
    # and only once no other step is open (asked by the finishing UPDATE itself).
    if not started:
        services.execution_finish(
            execution=execution, status=Execution.Status.SUCCEEDED, output=step_run.output, unless_active=True
        )


def _retry(execution: Execution, step_run: StepRun, definition: Definition, retry_in: float) -> None:
    retry_in = 0 if execution.fast_forward else retry_in
    wake_at = timezone.now() + timedelta(seconds=retry_in)
    armed = retry_in <= services.SHORT_TIMER  # a countdown for its time; longer back-offs are armed by the sweep
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
        services.enqueue(execution.pk, wake_at=wake_at)
    _pause_deadline(execution, retry_in)
    run_log.step_event("retrying", step_run, execution, attempt=step_run.attempt + 1, retry_in=retry_in)


def _holdable(definition: Definition, decision: Decision, lane: str | None) -> bool:
    """A decision that starts exactly one step (and nothing else) of this worker's lane: this task runs it next."""
    if len(decision.next) != 1 or decision.spawn or decision.join or decision.container_done:
        return False
    return lane is None or routing.step_queue(definition.step(decision.next[0])) == lane


def _start_held(execution: Execution, definition: Definition, scope: str, key: str, state: RunState, worker: str):
    """Insert the next step already running and leased to this worker: no commit-then-claim round trip."""
    visit = state.next_visit(key, scope) if state is not None else None
    run = add_step(execution, definition, key, scope=scope, visit=visit, lease=worker)
    if state is not None:
        state.visited(key, scope, visit)
        state.held = run


def _follow(
    execution: Execution, definition: Definition, run: StepRun, decision: Decision, state: RunState | None = None
) -> int:
    """Start what the decision says (next steps, loop items, a join); returns how many steps were started."""
    for key in decision.next:
        add_step(execution, definition, key, scope=run.scope)
        if state is not None:
            state.visited(key, run.scope, None)  # the INSERT counted the visit: this task no longer knows it
    started = len(decision.next)
    if decision.spawn:
        containers.spawn_items(execution, definition, run, decision.spawn, decision.spawn_delay)
        started += 0 if decision.spawn_delay else len(decision.spawn)
    if decision.join:
        container_run, joined = containers.lane_ended(execution, definition, run, decision.join)
        if state is not None:
            state.recorded(container_run)  # its output (the join's state) changed
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
