"""Parallel branches and loop bodies: start lanes, notice when one ends, join, carry on."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F, Max, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import scopes
from .engine import kinds
from .engine.definition import Definition, lanes_of
from .models import Execution, StepRun
from .runtime.leases import lease_until
from .services import SHORT_TIMER, enqueue


def spawn_items(execution: Execution, definition: Definition, loop_run: StepRun, indexes, delay: float) -> None:
    """Start the loop body's first step for each item index, in the item's own scope."""
    loop = definition.step(loop_run.step_key)
    first = lanes_of(loop)[0][0]
    if execution.fast_forward:
        delay = 0
    wake_at = timezone.now() + timedelta(seconds=delay) if delay else None
    armed = bool(delay) and delay <= SHORT_TIMER  # a countdown message wakes them (the sweep need not)
    for index in indexes:
        scope = scopes.child(loop_run.scope, loop.key, index)
        add_step(execution, definition, first, scope=scope, wake_at=wake_at, armed=armed)
    if armed:
        enqueue(execution.pk, wake_at=wake_at)


def lane_ended(execution: Execution, definition: Definition, ended: StepRun, container_key: str):
    """Record that a lane finished; returns (container run, Decision) for the runtime to follow."""
    container = definition.step(container_key)
    if container.kind == "loop":
        parent_scope, _, lane = scopes.split(ended.scope)
    else:
        parent_scope, lane = ended.scope, definition.lanes[ended.step_key].lane
    container_run = (
        StepRun.objects.select_for_update()
        .filter(execution=execution, step_key=container_key, scope=parent_scope, status=StepRun.Status.SUCCEEDED)
        .order_by("-attempt")
        .first()
    )
    state, decision = kinds.get(container.kind).on_lane_end(container, container_run.output, lane, ended.output)
    container_run.output = state
    container_run.save(update_fields=["output"])
    if decision.cancel_lanes:
        cancel_lanes(execution, container, parent_scope, decision.cancel_lanes)
    return container_run, decision


def cancel_lanes(execution: Execution, container, scope: str, lanes) -> None:
    """Stop the losing branches of an "any" join; a late result from them is dropped (lease check)."""
    keys = [key for number, lane in enumerate(lanes_of(container)) if number in lanes for key in lane]
    execution.step_runs.active().filter(step_key__in=keys, scope=scope).update(
        status=StepRun.Status.CANCELLED,
        finished_at=timezone.now(),
        lease_owner="",
        lease_expires_at=None,
        error="Cancelled: another branch finished first",
    )
    # Cancelled rows hold visits other tasks' memories don't know of: moving the counter makes them read again.
    Execution.objects.filter(pk=execution.pk).update(steps_done=F("steps_done") + 1)


def add_step(
    execution: Execution,
    definition: Definition,
    key: str,
    *,
    scope: str = "",
    attempt: int = 1,
    wake_at=None,
    visit: int | None = None,
    armed: bool = False,
    lease: str = "",
) -> StepRun:
    """Insert a runnable step; reaching a step again (a polling loop) is a new visit. A step with a wake-up time
    is `armed` when the caller sends a countdown message for it (the sweep then does not send another). With a
    `lease` (a worker id) the step is inserted already running and leased to that worker, which runs it next."""
    step = definition.step(key)
    now = timezone.now()
    held = {}
    if lease:
        held = dict(status=StepRun.Status.RUNNING, lease_owner=lease, worker=lease, claims=1, started_at=now)
        held["lease_expires_at"] = lease_until(now)
    run = StepRun.objects.create(
        execution=execution,
        step_key=key,
        step_name=step.name,
        step_kind=step.kind,
        attempt=attempt,
        scope=scope,
        visit=next_visit(execution, key, scope) if visit is None else visit,
        wake_at=wake_at,
        enqueued_at=now if armed or not wake_at else None,
        **held,
    )
    if visit is None:
        del run.visit  # computed by the INSERT: read back from the row if asked for
    return run


def next_visit(execution: Execution, key: str, scope: str):
    """One more than the step's last visit in this scope, as a subquery of the INSERT (no query of its own)."""
    visits = StepRun.objects.filter(execution_id=execution.pk, step_key=key, scope=scope).order_by()
    return Coalesce(Subquery(visits.values("execution_id").annotate(last=Max("visit")).values("last")), 0) + 1
