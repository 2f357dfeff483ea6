"""One structured log line per run and step transition, on the `faos.runs` logger.

Each line carries its ids and timings as fields (JSON keys with LOG_FORMAT=json, key=value otherwise):
never inputs, outputs or error text, which may hold what a connection's credentials produced.
Nothing here queries the database: the workflow's name is logged only when it is already loaded.
"""

from __future__ import annotations

import logging

from django.utils import timezone

from ..models import Execution, StepRun

logger = logging.getLogger("faos.runs")


def _run_fields(execution: Execution) -> dict:
    fields = {"execution_id": execution.pk, "workflow_id": execution.workflow_id}
    if Execution.workflow.is_cached(execution):
        fields["workflow"] = execution.workflow.name
    return fields


def _present(fields: dict) -> dict:
    """Leave out empty fields (no scope, no duration yet): shorter lines, same meaning."""
    return {key: value for key, value in fields.items() if value not in (None, "")}


def run_event(event: str, execution: Execution, **extra) -> None:
    """run started / run finished."""
    logger.info("run %s", event, extra=_present({"event": f"run.{event}", **_run_fields(execution), **extra}))


def step_event(event: str, step_run: StepRun, execution: Execution, **extra) -> None:
    """step claimed / finished / failed / waiting / retrying, with the attempt and how long it took."""
    duration = step_run.duration_ms
    if duration is None and step_run.started_at and event != "claimed":
        duration = int((timezone.now() - step_run.started_at).total_seconds() * 1000)
    fields = {
        "event": f"step.{event}",
        **_run_fields(execution),
        "step_run_id": step_run.pk,
        "step": step_run.step_key,
        "kind": step_run.step_kind,
        "scope": step_run.scope,
        "attempt": step_run.attempt,
        "duration_ms": duration,
    }
    logger.info("step %s", event, extra=_present({**fields, **extra}))


def step_outcome(step_run: StepRun, execution: Execution, status: str, **extra) -> None:
    """The attempt's recorded outcome: succeeded is `finished`; failed and waiting keep their names."""
    step_event({"succeeded": "finished"}.get(status, status), step_run, execution, **extra)
