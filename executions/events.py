"""Events: record one, and resume the waiting steps it matches."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from .engine.definition import Definition
from .engine.errors import ExpressionError
from .engine.kinds.wait_for_event import matches
from .models import Event, Execution, StepRun
from .services import enqueue

logger = logging.getLogger(__name__)


@transaction.atomic
def event_emit(*, type: str, data: dict | None = None, source: str = "") -> Event:
    """Store an event and wake every `wait_for_event` step whose type and match it satisfies."""
    event = Event.objects.create(type=type, data=data or {}, source=source)
    waiting = StepRun.objects.filter(waiting_for=type, status=StepRun.Status.PENDING).select_related("execution")
    resumed = sum(_resume_if_matching(step_run, event) for step_run in waiting)
    if resumed:
        Event.objects.filter(pk=event.pk).update(resumed=resumed)
        event.resumed = resumed
    return event


def _resume_if_matching(step_run: StepRun, event: Event) -> bool:
    from .runtime import build_variables  # runtime imports services, which this module shares

    execution = Execution.objects.select_for_update().get(pk=step_run.execution_id)
    if execution.is_finished:
        return False
    step = Definition.from_dict(execution.version.definition).step(step_run.step_key)
    try:
        if not matches(step, build_variables(execution, step_run.scope), event.as_variable()):
            return False
    except ExpressionError as exc:
        logger.warning("event %s vs step run %s: %s", event.pk, step_run.pk, exc)
        return False
    output = {**(step_run.output or {}), "event": event.as_variable()}
    claimed = StepRun.objects.filter(pk=step_run.pk, status=StepRun.Status.PENDING, waiting_for=event.type).update(
        output=output, wake_at=timezone.now(), waiting_for="", enqueued_at=timezone.now()
    )
    if claimed:
        enqueue(execution.pk)
    return bool(claimed)
