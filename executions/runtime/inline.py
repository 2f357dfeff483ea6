"""Pure steps run inline: in the worker's own thread, one after another, and recorded together in one write.

A step is pure when its kind says so (condition, switch, complete, fail) or it is an action that says so (`set`,
`log`): it reads the run's variables and touches nothing outside. After a step ends, the pure steps that follow
it on its path run at once, in memory; the completion then writes every attempt (each still its own StepRun row
with input, output and timing) in the transaction that records the first. A crash before that commit loses
nothing: the first step's lease runs out, it runs again, and the pure steps after it are replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from integrations import actions as action_registry

from ..engine import interpreter, kinds
from ..engine.context import StepContext
from ..engine.definition import Definition, StepDef
from ..engine.outcome import Decision, Outcome
from ..models import Execution, StepRun
from . import rows
from .state import RunState, row_of

CHAIN_MAX = 200  # pure steps recorded in one write at most: bounds a transaction (and a polling cycle's spin)


@dataclass
class Link:
    """One pure step attempt run in memory: its row (unsaved until the completion), what it did, what follows."""

    run: StepRun
    outcome: Outcome
    ctx: StepContext
    decision: Decision


def is_inline(step: StepDef) -> bool:
    """Whether a step runs in the worker's thread: its kind is pure, or it is a pure action."""
    kind = kinds.get(step.kind)
    if kind is not None and kind.inline:
        return True
    action = action_registry.get(step.config.get("action", "")) if step.kind == "action" else None
    return bool(action is not None and action.pure)


def outcome_fields(run: StepRun, outcome: Outcome, ctx: StepContext, now) -> dict:
    """The columns an attempt's outcome sets on its row (a waiting step goes back to pending)."""
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
        "duration_ms": int((now - run.started_at).total_seconds() * 1000),
        "lease_owner": "",
        "lease_expires_at": None,
    }
    usage = outcome.result.get("usage") if isinstance(outcome.result, dict) else None
    if isinstance(usage, dict):  # agent steps report model usage; kept as columns so totals are one query
        fields["tokens_in"] = int(usage.get("input_tokens", 0))
        fields["tokens_out"] = int(usage.get("output_tokens", 0))
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
    return fields


def variables_set(outcome: Outcome, ctx: StepContext, chain: list[Link] = ()) -> dict:
    """What the attempts' `set` actions add to the run's variables (a failed `set` changes nothing)."""
    merged = {}
    for each_outcome, each_ctx in [(outcome, ctx), *((link.outcome, link.ctx) for link in chain)]:
        if each_outcome.status == "succeeded" and each_ctx.extra.get("set_vars"):
            merged.update(each_ctx.extra["set_vars"])
    return merged


def chain_after(first: StepRun, outcome: Outcome, ctx: StepContext, execution: Execution, state: RunState, *,
                limit: int, worker: str, run) -> list[Link]:  # fmt: skip
    """Run the pure steps that follow `first` on its path, now and in memory, up to `limit` of them."""
    definition, links = state.definition, []
    decision = _decide(definition, first, outcome)
    previous = {**row_of(first), **outcome_fields(first, outcome, ctx, timezone.now())}
    set_vars = variables_set(outcome, ctx)
    while len(links) < min(limit, CHAIN_MAX) and (key := _plain_next(definition, decision)) is not None:
        visit = state.next_visit(key, first.scope)
        if visit is None:
            break
        state.add(previous)  # the next step reads this one as if its row were already written
        execution.variables = {**execution.variables, **set_vars}
        step = definition.step(key)
        link_run = StepRun(
            execution_id=execution.pk,
            step_key=key,
            step_name=step.name,
            step_kind=step.kind,
            scope=first.scope,
            visit=visit,
            status=StepRun.Status.RUNNING,
            claims=1,
            worker=worker,
            started_at=timezone.now(),
        )
        state.visited(key, first.scope, visit)
        outcome, link_ctx = run(link_run, execution, definition, state)
        for name, value in outcome_fields(link_run, outcome, link_ctx, timezone.now()).items():
            setattr(link_run, name, value)
        decision = _decide(definition, link_run, outcome)
        links.append(Link(link_run, outcome, link_ctx, decision))
        previous, set_vars = row_of(link_run), variables_set(outcome, link_ctx)
    return links


def _decide(definition: Definition, run: StepRun, outcome: Outcome) -> Decision:
    return interpreter.decide(definition, definition.step(run.step_key), outcome, attempt=run.attempt)


def _plain_next(definition: Definition, decision: Decision) -> str | None:
    """The one step a decision starts, when it does nothing else and that step is pure; else None."""
    if len(decision.next) != 1 or decision.finish or decision.notify or decision.retry_in is not None:
        return None
    if decision.join or decision.spawn or decision.container_done:
        return None
    return decision.next[0] if is_inline(definition.step(decision.next[0])) else None


def chain_record(execution: Execution, chain: list[Link], state: RunState | None) -> StepRun:
    """Write the chain's rows in one INSERT (a visit this task got wrong falls back to one INSERT each)."""
    runs = [link.run for link in chain]
    if not _inserted(runs):  # a row this task did not know of took a visit (a cancelled branch): let the DB count
        from ..containers import next_visit

        for run in runs:
            run.pk, run.visit = None, next_visit(execution, run.step_key, run.scope)
            run.save(force_insert=True)
            run.refresh_from_db(fields=["visit"])
        if state is not None:
            state.forget()
    if state is not None:
        for run in runs:
            state.recorded(run)
    return runs[-1]


def _inserted(runs: list[StepRun]) -> bool:
    """One INSERT of every row (rows.py on PostgreSQL); False, with nothing written, when a visit was taken."""
    if connection.vendor == "postgresql":
        return rows.insert(runs)
    try:
        with transaction.atomic():
            StepRun.objects.bulk_create(runs)
    except IntegrityError:
        return False
    return True
