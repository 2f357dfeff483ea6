"""Concurrency and ordering per workflow: at most K runs in flight per key, the others queued in arrival order.

A workflow may set `concurrency_limit` (K) and a `concurrency_key` expression over the trigger data (e.g.
`{{trigger.customer.id}}`). A new run whose key already has K runs in flight is, by `concurrency_overflow`,
queued (status `queued`: no step yet, started when a place frees, oldest first), skipped (recorded as cancelled)
or started after cancelling the oldest run in flight with that key. Admission and promotion both lock the
workflow's row, so two deliveries for one customer never both take the last place, and a run that ends starts
the next queued one in the same transaction (the database is the truth: nothing is lost if a worker dies).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count, Q

from workflows.models import Workflow

from .engine.context import trigger_vars
from .engine.errors import ExpressionError
from .engine.expressions import render
from .models import Execution

MAX_KEY = 500


@dataclass(frozen=True)
class Admission:
    """What a new run does: start, wait in the queue, be skipped, or start in place of `replaces`."""

    action: str  # "start" | "queue" | "skip" | "replace"
    key: str | None = None
    in_flight: int = 0
    replaces: Execution | None = None


def concurrency_key(workflow: Workflow, payload, *, source: str = "", headers: dict | None = None) -> str | None:
    """The run's key: the workflow's key expression rendered over the trigger ("" for one shared limit)."""
    if not workflow.concurrency_limit:
        return None
    if not workflow.concurrency_key.strip():
        return ""
    variables = {"trigger": trigger_vars(payload, source=source, timestamp="", headers=headers)}
    try:
        value = render(workflow.concurrency_key, variables, step="concurrency_key")
    except ExpressionError as exc:
        raise ValidationError({"concurrency_key": f"the workflow's concurrency key cannot be read: {exc}"}) from None
    return str(value if value is not None else "")[:MAX_KEY]


def admit(workflow: Workflow, key: str | None) -> Admission:
    """Decide for a new run (the caller holds the workflow's row lock, so the count cannot change meanwhile)."""
    if key is None:
        return Admission("start")
    in_flight = _same_key(workflow, key).filter(status__in=Execution.IN_FLIGHT)
    count = in_flight.count()
    if count < workflow.concurrency_limit and not _same_key(workflow, key).filter(status="queued").exists():
        return Admission("start", key, count)  # (a run never jumps the queue of its key)
    overflow = workflow.concurrency_overflow
    if overflow == Workflow.Overflow.REPLACE and count:
        # The oldest run nobody holds right now: a run whose worker is recording a step holds its own row and
        # then wants the workflow's, which we hold; waiting for it would deadlock. With every run held, queue.
        oldest = in_flight.order_by("created_at", "id").select_for_update(skip_locked=True).first()
        return Admission("replace", key, count, oldest) if oldest else Admission("queue", key, count)
    return Admission("skip" if overflow == Workflow.Overflow.SKIP else "queue", key, count)


def waiting_reason(execution: Execution) -> str:
    """Why a queued run waits, for the admin and the API."""
    if execution.status != Execution.Status.QUEUED:
        return ""
    workflow = execution.workflow
    same = _same_key(workflow, execution.concurrency_key or "")
    counts = same.aggregate(
        in_flight=Count("id", filter=Q(status__in=Execution.IN_FLIGHT)),
        ahead=Count("id", filter=Q(status=Execution.Status.QUEUED, id__lt=execution.pk)),
    )
    key = f" with key {execution.concurrency_key!r}" if execution.concurrency_key else ""
    return (
        f"Waiting for a place: {counts['in_flight']} run(s){key} in flight, the limit is "
        f"{workflow.concurrency_limit or 'none'}; {counts['ahead']} queued ahead of it."
    )


def _same_key(workflow: Workflow, key: str):
    return Execution.objects.filter(workflow_id=workflow.pk, concurrency_key=key)


def startable(workflow: Workflow, key: str | None = None) -> list[Execution]:
    """Queued runs (of one key, or of every key) that fit under the workflow's limit, oldest first per key.

    The caller holds the workflow's row lock; the queued rows are locked too, so a run cancelled meanwhile is not
    started. Called when a run that held a place ends, and when the limit is raised or removed.
    """
    queued = Execution.objects.filter(workflow_id=workflow.pk, status=Execution.Status.QUEUED).order_by("id")
    keys = [key] if key is not None else list(dict.fromkeys(queued.values_list("concurrency_key", flat=True)))
    chosen = []
    for each in keys:
        of_key = queued.filter(concurrency_key=each).select_for_update()
        if workflow.concurrency_limit:
            in_flight = _same_key(workflow, each).filter(status__in=Execution.IN_FLIGHT).count()
            of_key = of_key[: max(workflow.concurrency_limit - in_flight, 0)]
        chosen.extend(of_key)
    return chosen
