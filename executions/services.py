"""Execution services: start, cancel and re-run. The step-by-step runtime lives in runtime.py."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from workflows.models import Workflow, WorkflowVersion
from workflows.services import WorkflowInvalid, definition_validate, workflow_snapshot

from .models import Execution, StepRun

logger = logging.getLogger(__name__)


def enqueue(execution_id: int) -> None:
    """Tell a worker to look at this execution once the current transaction has committed."""
    from . import tasks  # tasks imports this module

    transaction.on_commit(lambda: tasks.run_execution.delay(execution_id))


def execution_start(
    *,
    workflow: Workflow,
    input: Any,
    trigger_kind: str = "manual",
    source: str = "",
    user=None,
    is_test: bool = False,
    version: WorkflowVersion | None = None,
    idempotency_key: str | None = None,
    trigger_meta: dict | None = None,
) -> Execution:
    """Start a run: every trigger calls this. Returns the existing run for a repeated idempotency key."""
    if not isinstance(input, dict):
        raise ValidationError({"input": 'The input must be a JSON object, e.g. {"customer": {...}}.'})
    version = version or _version_to_run(workflow, user=user, is_test=is_test)
    try:
        with transaction.atomic():
            return _create_execution(
                workflow, version, input, trigger_kind, source, user, is_test, idempotency_key, trigger_meta
            )
    except IntegrityError:
        if idempotency_key is None:
            raise
        return Execution.objects.get(workflow=workflow, idempotency_key=idempotency_key)


def _version_to_run(workflow: Workflow, *, user, is_test: bool) -> WorkflowVersion:
    if is_test:  # a test run exercises the draft as it is now
        problems = definition_validate(definition=_draft(workflow))
        if problems:
            raise WorkflowInvalid(problems)
        return workflow_snapshot(workflow=workflow, user=user, note="test run")
    if workflow.status != Workflow.Status.ACTIVE or workflow.active_version_id is None:
        raise ValidationError({"workflow": f"Workflow '{workflow.name}' is not active; activate it or use a test run."})
    return workflow.active_version


def _draft(workflow: Workflow) -> dict:
    from workflows.services import workflow_definition

    return workflow_definition(workflow=workflow)


def _create_execution(workflow, version, input, trigger_kind, source, user, is_test, idempotency_key, trigger_meta):
    existing = idempotency_key and Execution.objects.filter(workflow=workflow, idempotency_key=idempotency_key).first()
    if existing:
        return existing
    now = timezone.now()
    timeout = version.definition.get("timeout_seconds") or workflow.timeout_seconds
    execution = Execution.objects.create(
        workflow=workflow,
        version=version,
        input=input,
        trigger_kind=trigger_kind,
        trigger_source=source,
        trigger_meta=trigger_meta or {},
        is_test=is_test,
        idempotency_key=idempotency_key,
        started_by=user,
        deadline_at=now + timedelta(seconds=timeout),
    )
    first = version.definition["steps"][0]
    StepRun.objects.create(
        execution=execution,
        step_key=first["key"],
        step_name=first.get("name", ""),
        step_kind=first["kind"],
        enqueued_at=now,
    )
    enqueue(execution.pk)
    return execution


@transaction.atomic
def execution_cancel(*, execution: Execution, reason: str = "Cancelled by a user") -> bool:
    """Cancel an unfinished run: pending steps never start, running ones are not resumed."""
    execution = Execution.objects.select_for_update().get(pk=execution.pk)
    if execution.is_finished:
        return False
    execution_finish(execution=execution, status=Execution.Status.CANCELLED, error=reason)
    return True


def timeout_message(execution: Execution) -> str:
    seconds = execution.version.definition.get("timeout_seconds") or execution.workflow.timeout_seconds
    return f"The workflow did not finish within its timeout of {seconds} s."


def execution_finish(*, execution: Execution, status: str, error: str = "", error_step: str = "", output=None) -> None:
    """End a run (caller holds the row lock): close its open steps and stamp the time."""
    now = timezone.now()
    execution.step_runs.filter(status__in=("pending", "running")).update(
        status=StepRun.Status.CANCELLED, finished_at=now, lease_owner="", lease_expires_at=None
    )
    execution.status = status
    execution.error = error
    execution.error_step = error_step
    execution.output = output
    execution.finished_at = now
    if execution.started_at:
        execution.duration_ms = int((now - execution.started_at).total_seconds() * 1000)
    execution.save(update_fields=["status", "error", "error_step", "output", "finished_at", "duration_ms"])
    if status in (Execution.Status.FAILED, Execution.Status.TIMED_OUT):
        _notify_failure(execution)


def _notify_failure(execution: Execution) -> None:
    from .notifications import notify_owner_of_failure

    if execution.workflow.on_failure == Workflow.OnFailure.NOTIFY_OWNER:
        transaction.on_commit(lambda: notify_owner_of_failure(execution_id=execution.pk))


def execution_rerun(*, execution: Execution, user=None) -> Execution:
    """Start a new run of the same version with the same input."""
    return execution_start(
        workflow=execution.workflow,
        input=execution.input,
        trigger_kind=execution.trigger_kind,
        source=f"re-run of #{execution.pk}",
        user=user,
        is_test=execution.is_test,
        version=execution.version,
    )
