"""A task's loop over one run: claim a step, run it, run the pure steps after it, record them; again until done."""

from __future__ import annotations

import os
import socket
import uuid

from django.conf import settings
from django.db import transaction

from ..services import enqueue
from . import claim, inline, record, routing, run
from .state import RunState


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
        claimed = claim.take_held(state) or claim.steprun_claim(
            execution_id=execution_id, worker=worker, state=state, lane=lane
        )
        if claimed is None:
            return ran
        step_run, execution, definition = claimed
        outcome, ctx = run.attempt(step_run, execution, definition, state)
        chain = _chain(step_run, outcome, ctx, execution, state, limit=budget - ran - 1, worker=worker, lane=lane)
        ran += 1 + len(chain)
        hold = worker if ran < budget else ""
        record.steprun_complete(
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
    return inline.chain_after(step_run, outcome, ctx, execution, state, limit=limit, worker=worker, run=run.attempt)


def enqueue_now(execution_id: int) -> None:
    """Tell a worker to carry on with this run (after the commit)."""
    with transaction.atomic():
        enqueue(execution_id)
