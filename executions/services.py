"""Execution services: start, cancel and re-run. The step-by-step runtime lives in the runtime package."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from integrations.actions import CONNECTION_FIELD
from workflows import authz
from workflows.models import Workflow, WorkflowVersion
from workflows.services import WorkflowInvalid, definition_validate, workflow_definition, workflow_snapshot

from . import concurrency
from .engine.definition import Definition
from .models import Execution, StepRun
from .runtime import routing, rows, run_log, starts
from .runtime.broker import task

logger = logging.getLogger(__name__)


ACTS_FOR_ACTIVATOR = frozenset({"webhook", "schedule", "event"})
SHORT_TIMER = 60.0  # seconds: timers up to this long also get a Celery countdown; longer ones only the sweep


def enqueue(execution_id: int, *, countdown: float | None = None, queue: str | None = None, wake_at=None) -> None:
    """Tell a worker to look at this execution once the current transaction has committed.

    A short countdown makes a 1 s rate limit or retry delay precise instead of waiting for the next sweep;
    the row's wake_at stays the truth, so a lost or early message costs nothing. With `wake_at` the countdown
    is computed from it when the message is sent (after the commit), so time spent committing is not added.
    The queue (steps or agents) follows the run's next step, read after the commit unless the caller knows it.
    """
    transaction.on_commit(lambda: _send(execution_id, countdown=countdown, queue=queue, wake_at=wake_at))


def _send(execution_id: int, *, countdown: float | None, queue: str | None, wake_at=None) -> None:
    if wake_at is not None:
        countdown = max((wake_at - timezone.now()).total_seconds(), 0.0)
    queue = queue or routing.execution_queue(execution_id, countdown=countdown)
    task("executions.tasks.run_execution").apply_async((execution_id,), countdown=countdown or None, queue=queue)


def timer_horizon() -> timedelta:
    """Timers due within this get a countdown message (when parked, and from each sweep): two sweep intervals,
    so a timer is armed by at least one sweep even when Beat is a little late; later ones wait in the database
    only, so the worker holds a bounded number of countdown messages however many runs are parked."""
    interval = settings.CELERY_BEAT_SCHEDULE.get("faos-sweep", {}).get("schedule", 5.0)
    return timedelta(seconds=2 * float(getattr(interval, "total_seconds", lambda: interval)()))


def timer_rearm(execution_id: int, *, now=None) -> bool:
    """A timer message that found nothing due (it came early, or its step was not committed as due yet):
    send it again for the step's remaining time instead of leaving the wake-up to the next sweep."""
    now = now or timezone.now()
    wake_at = (
        StepRun.objects.filter(
            execution_id=execution_id,
            status=StepRun.Status.PENDING,
            wake_at__gt=now,
            wake_at__lte=now + timedelta(seconds=SHORT_TIMER),
        )
        .order_by("wake_at")
        .values_list("wake_at", flat=True)
        .first()
    )
    if wake_at is None:
        return False
    _send(execution_id, countdown=None, queue=None, wake_at=wake_at)
    return True


def steprun_wake(*, step_run_id: int, waiting_for: str, output: Any = None, execution_id: int | None = None) -> bool:
    """Make a step parked waiting for `waiting_for` runnable now and tell a worker; False if it was not so parked.

    Conditional on the row, so a decision, event or child run wakes a parked step once, and a park-time check finds
    the step it has just recorded. `output` replaces the step's output when given; `execution_id` saves a query.
    """
    now = timezone.now()
    fields = {"wake_at": now, "waiting_for": "", "enqueued_at": now} | ({} if output is None else {"output": output})
    parked = StepRun.objects.filter(pk=step_run_id, status=StepRun.Status.PENDING, waiting_for=waiting_for)
    if not parked.update(**fields):
        return False
    if execution_id is None:
        execution_id = StepRun.objects.values_list("execution_id", flat=True).get(pk=step_run_id)
    enqueue(execution_id)
    return True


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
    parent_step_run: StepRun | None = None,
) -> Execution:
    """Start a run: every trigger calls this. Returns the existing run for a repeated idempotency key."""
    if not isinstance(input, dict):
        raise ValidationError({"input": 'The input must be a JSON object, e.g. {"customer": {...}}.'})
    if user is not None:
        authz.require(user, "run", workflow)
    elif trigger_kind in ACTS_FOR_ACTIVATOR:
        user = workflow.activated_by  # nobody pressed a button: the run acts for who switched it on
    version = version or _version_to_run(workflow, user=user, is_test=is_test)
    fields = dict(
        input=input,
        trigger_kind=trigger_kind,
        trigger_source=source,
        trigger_meta=trigger_meta or {},
        is_test=is_test,
        idempotency_key=idempotency_key,
        started_by=user,
        parent_step_run=parent_step_run,
    )
    try:
        with transaction.atomic() if _needs_transaction(workflow) else nullcontext():
            return _create_execution(workflow, version, fields)
    except IntegrityError:  # a repeated key (not looked up first: new deliveries are the rule, repeats rare)
        run = idempotency_key and Execution.objects.filter(workflow=workflow, idempotency_key=idempotency_key).first()
        if not run:  # another constraint failed: not a repeat
            raise
        return run


def _needs_transaction(workflow: Workflow) -> bool:
    """Whether starting a run takes more than one statement that must commit together. On PostgreSQL a run with no
    concurrency limit is one INSERT (run and first step, rows.insert_run), atomic on its own: no BEGIN and COMMIT
    round trips on the webhook's path. Inside a caller's transaction, a savepoint keeps a repeated key's error in."""
    return connection.vendor != "postgresql" or connection.in_atomic_block or bool(workflow.concurrency_limit)


def test_run_options(*, is_test: bool, options) -> dict:
    """The test-run switches a run was asked for (waits fast-forwarded, reads sent); a live run takes none."""
    if not is_test:
        return {}
    return {key: bool(options.get(key)) for key in ("fast_forward", "send_reads")}


def _version_to_run(workflow: Workflow, *, user, is_test: bool) -> WorkflowVersion:
    if is_test:  # a test run exercises the draft as it is now
        problems = definition_validate(definition=workflow_definition(workflow=workflow))
        # Test runs record vendor calls instead of sending them, so a connection not made yet is no obstacle.
        problems = [p for p in problems if p.field != CONNECTION_FIELD]
        if problems:
            raise WorkflowInvalid(problems)
        return workflow_snapshot(workflow=workflow, user=user, note="test run")
    if workflow.status != Workflow.Status.ACTIVE or workflow.active_version_id is None:
        raise ValidationError({"workflow": f"Workflow '{workflow.name}' is not active; activate it or use a test run."})
    return workflow.active_version


def _create_execution(workflow: Workflow, version: WorkflowVersion, fields: dict) -> Execution:
    meta = fields["trigger_meta"]
    if fields["is_test"] and "replay" in meta:  # a replay takes no place from live runs, nor waits for one
        return _admitted(workflow, version, fields, concurrency.Admission("start"), None)
    if workflow.concurrency_limit:  # admission is decided with the workflow's row locked (see concurrency.py)
        workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    run_key = concurrency.concurrency_key(workflow, fields["input"], source=fields["trigger_source"],
                                          headers=meta.get("headers"))  # fmt: skip
    return _admitted(workflow, version, fields, concurrency.admit(workflow, run_key), run_key)


def _admitted(workflow: Workflow, version: WorkflowVersion, fields: dict, admission, run_key) -> Execution:
    """Create the run as its admission says: started (in place of another, maybe), queued or skipped."""
    if admission.action in ("queue", "skip"):
        return _queue_execution(workflow, version, fields, admission)
    execution = Execution(
        workflow=workflow, version=version, concurrency_key=run_key, deadline_at=_deadline(workflow, version), **fields
    )
    _start_steps(execution, insert=True)
    if admission.replaces is not None:
        _replace(admission.replaces, execution)
    return execution


def _deadline(workflow: Workflow, version: WorkflowVersion):
    """A run's timeout counts from when it starts (a queued run has none yet)."""
    timeout = version.definition.get("timeout_seconds") or workflow.timeout_seconds
    return timezone.now() + timedelta(seconds=timeout)


def _start_steps(execution: Execution, *, insert: bool = False) -> None:
    """Insert the run's first step (and the run itself, if new: one statement on PostgreSQL) and tell a worker."""
    first = Definition.from_dict(execution.version.definition)
    step = first.step(first.start)
    step_run = StepRun(step_key=step.key, step_name=step.name, step_kind=step.kind, enqueued_at=timezone.now())
    if insert and connection.vendor == "postgresql":
        rows.insert_run(execution, step_run)
    else:
        if insert:
            execution.save(force_insert=True)
        step_run.execution = execution
        step_run.save(force_insert=True)
    # Logged first: outside a transaction (a run with no limit, on PostgreSQL) the message goes at once, and an eager
    # or quick worker would log its claim before the run's start.
    run_log.run_event("started", execution, trigger=execution.trigger_kind, is_test=execution.is_test)
    queue = routing.step_queue(step)  # the first step is known: no look-up after the commit
    if queue == routing.STEPS and starts.enabled():
        starts.announce(execution.pk)  # one message for a batch of new runs
    else:
        enqueue(execution.pk, queue=queue)


def _queue_execution(workflow: Workflow, version: WorkflowVersion, fields: dict, admission) -> Execution:
    """A run over the limit: queued (no step yet) until a place frees, or skipped (recorded as cancelled)."""
    execution = Execution.objects.create(
        workflow=workflow, version=version, status=Execution.Status.QUEUED, concurrency_key=admission.key, **fields
    )
    run_log.run_event("queued", execution, trigger=execution.trigger_kind, in_flight=admission.in_flight)
    if admission.action == "skip":
        key = f" for key {admission.key!r}" if admission.key else ""
        error = f"Skipped: {admission.in_flight} run(s){key} already in flight (limit {workflow.concurrency_limit})."
        execution_finish(execution=execution, status=Execution.Status.CANCELLED, error=error, idle=True)
    return execution


def _replace(old: Execution, new: Execution) -> None:
    """The newest run of a key wins: the oldest in flight is cancelled (its place is the new run's)."""
    old = Execution.objects.select_for_update().get(pk=old.pk)
    if not old.is_finished:
        execution_finish(execution=old, status=Execution.Status.CANCELLED, error=f"Replaced by run #{new.pk}.")


def _start_queued(ended: Execution) -> None:
    """A run that held a place ended: the oldest queued run(s) of its key that now fit start, in this transaction."""
    _promote_startable(ended.workflow_id, key=ended.concurrency_key)


@transaction.atomic
def executions_start_queued(*, workflow: Workflow) -> list[int]:
    """Start the queued runs that fit after the workflow's limit was raised or removed; returns their ids."""
    return _promote_startable(workflow.pk)


def _promote_startable(workflow_id: int, key: str | None = None) -> list[int]:
    workflow = Workflow.objects.select_for_update().get(pk=workflow_id)  # admission and promotion, one at a time
    started = concurrency.startable(workflow, key)
    for queued in started:
        _promote(queued)
    return [run.pk for run in started]


def _promote(queued: Execution) -> None:
    """A queued run gets its place: its timeout starts now, and so does its first step."""
    queued.status, queued.deadline_at = Execution.Status.PENDING, _deadline(queued.workflow, queued.version)
    Execution.objects.filter(pk=queued.pk).update(status=queued.status, deadline_at=queued.deadline_at)
    _start_steps(queued)


@transaction.atomic
def execution_cancel(*, execution: Execution, user=None, reason: str = "Cancelled by a user") -> bool:
    """Cancel an unfinished run: pending steps never start, running ones are not resumed."""
    authz.require(user, "run", execution)
    execution = Execution.objects.select_for_update().get(pk=execution.pk)
    if execution.is_finished:
        return False
    execution_finish(execution=execution, status=Execution.Status.CANCELLED, error=reason)
    return True


def timeout_message(execution: Execution) -> str:
    seconds = execution.version.definition.get("timeout_seconds") or execution.workflow.timeout_seconds
    return f"The workflow did not finish within its timeout of {seconds} s."


def execution_finish(
    *,
    execution: Execution,
    status: str,
    error: str = "",
    error_step: str = "",
    output=None,
    idle: bool = False,
    unless_active: bool = False,
) -> bool:
    """End a run (caller holds the row lock): close its open steps and stamp the time (`idle`: none is open).

    `unless_active`: only if no step is pending or running, asked in the UPDATE itself; whether the run ended.
    """
    now = timezone.now()
    if not idle and not unless_active:
        execution.step_runs.active().update(
            status=StepRun.Status.CANCELLED, finished_at=now, lease_owner="", lease_expires_at=None
        )
    fields = {"status": status, "error": error, "error_step": error_step, "output": output, "finished_at": now}
    if execution.started_at:
        fields["duration_ms"] = int((now - execution.started_at).total_seconds() * 1000)
    if not _stamp(execution, fields, unless_active=unless_active):
        return False
    for name, value in fields.items():
        setattr(execution, name, value)
    run_log.run_event("finished", execution, status=status, duration_ms=execution.duration_ms, error_step=error_step)
    if status in (Execution.Status.FAILED, Execution.Status.TIMED_OUT):
        _notify_failure(execution)
    if execution.parent_step_run_id:
        _wake_parent(execution)
    _emit_finished(execution)
    if execution.is_test and "replay" in execution.trigger_meta:
        from .runtime.outbox import REPLAY_COLLECT, outbox_add

        outbox_add(kind=REPLAY_COLLECT, payload={"execution_id": execution.pk}, key=f"execution:{execution.pk}:replay")
    if execution.concurrency_key is not None:
        _start_queued(execution)
    return True


# The idle finish's condition, on the execution row `t` (rows.update): none of its steps is pending or running.
NO_STEP_OPEN = (
    f" AND NOT EXISTS (SELECT 1 FROM {StepRun._meta.db_table} s WHERE s.execution_id = t.id"
    f" AND s.status IN ({', '.join(repr(str(status)) for status in StepRun.OPEN)}))"
)


def _stamp(execution: Execution, fields: dict, *, unless_active: bool) -> bool:
    """One UPDATE of the run's end (one JSON parameter on PostgreSQL); with `unless_active`, only if no step is open."""
    if connection.vendor == "postgresql":
        return rows.update(Execution, execution.pk, fields, where=NO_STEP_OPEN if unless_active else "")
    finished = Execution.objects.filter(pk=execution.pk)
    if unless_active:
        finished = finished.exclude(Exists(StepRun.objects.active().filter(execution_id=OuterRef("pk"))))
    return bool(finished.update(**fields))


def _emit_finished(execution: Execution) -> None:
    """execution.succeeded / .failed / .cancelled / .timed_out, so other workflows can react."""
    from .runtime.outbox import event_add

    data = {
        "execution_id": execution.pk,
        "workflow_id": execution.workflow_id,
        "workflow": execution.workflow.name,
        "status": execution.status,
        "error": execution.error,
        "error_step": execution.error_step,
        "is_test": execution.is_test,
    }
    # An outbox row in this transaction; delivered after the commit, as emitting locks other runs (waiters,
    # triggers) and must never run while this run's lock is held.
    status = data["status"]
    event_add(type=f"execution.{status}", data=data, key=f"execution:{execution.pk}:{status}", about=execution.workflow)


def _wake_parent(execution: Execution) -> None:
    """A child run ended: its sub_workflow step runs again now (and finds the child finished)."""
    steprun_wake(step_run_id=execution.parent_step_run_id, waiting_for="subworkflow")


def _notify_failure(execution: Execution) -> None:
    from .runtime.outbox import OWNER_FAILURE, outbox_add

    if execution.workflow.on_failure == Workflow.OnFailure.NOTIFY_OWNER:
        payload = {"execution_id": execution.pk}
        outbox_add(kind=OWNER_FAILURE, payload=payload, key=f"execution:{execution.pk}:owner_failure")


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


@transaction.atomic
def execution_retry(*, execution: Execution, user=None, on_active_version: bool = False) -> Execution:
    """Start a new run from the failed step, reusing the results of the steps that succeeded before it."""
    authz.require(user, "run", execution)
    if execution.status not in (Execution.Status.FAILED, Execution.Status.TIMED_OUT):
        raise ValidationError(
            {"execution": f"Run #{execution.pk} is {execution.status}; only failed runs can be retried."}
        )
    version = _retry_version(execution, on_active_version)
    restart = _restart_point(execution)
    definition = version.definition
    keys = {s["key"] for s in definition["steps"]}
    if restart not in keys:
        raise ValidationError({"version": f"Step '{restart}' does not exist in version {version.number}."})
    now = timezone.now()
    retry = Execution.objects.create(
        workflow=execution.workflow,
        version=version,
        input=execution.input,
        variables=execution.variables,
        trigger_kind=execution.trigger_kind,
        trigger_source=f"retry of #{execution.pk}",
        trigger_meta=execution.trigger_meta,
        is_test=execution.is_test,
        started_by=user,
        retry_of=execution,
        deadline_at=now + timedelta(seconds=definition.get("timeout_seconds") or execution.workflow.timeout_seconds),
    )
    _reuse_results(execution, retry, keys, restart)
    step = next(s for s in definition["steps"] if s["key"] == restart)
    StepRun.objects.create(
        execution=retry, step_key=restart, step_name=step.get("name", ""), step_kind=step["kind"], enqueued_at=now
    )
    enqueue(retry.pk)
    run_log.run_event("started", retry, trigger=retry.trigger_kind, retry_of=execution.pk, is_test=retry.is_test)
    return retry


def _retry_version(execution: Execution, on_active_version: bool) -> WorkflowVersion:
    if not on_active_version:
        return execution.version
    if execution.workflow.active_version_id is None:
        raise ValidationError({"version": f"Workflow '{execution.workflow.name}' has no active version."})
    return execution.workflow.active_version


def _restart_point(execution: Execution) -> str:
    """The failed top-level step: a failure inside a loop or branch restarts its outermost container."""
    from .engine.definition import Definition

    failed = execution.step_runs.filter(status=StepRun.Status.FAILED).order_by("-id").first()
    key = failed.step_key if failed else execution.error_step
    if not key:
        first = execution.version.definition["steps"][0]["key"]
        return first
    lanes = Definition.from_dict(execution.version.definition).lanes
    while key in lanes:
        key = lanes[key].owner
    return key


def _reuse_results(old: Execution, new: Execution, keys: set[str], restart: str) -> None:
    """Copy the latest succeeded attempt of each top-level step that ran before the restart point."""
    latest = {}
    for run in old.step_runs.filter(status=StepRun.Status.SUCCEEDED, scope="").order_by("id"):
        if run.step_key in keys and run.step_key != restart:
            latest[run.step_key] = run
    StepRun.objects.bulk_create(
        StepRun(
            execution=new,
            step_key=r.step_key,
            step_name=r.step_name,
            step_kind=r.step_kind,
            status=r.status,
            input=r.input,
            output=r.output,
            started_at=r.started_at,
            finished_at=r.finished_at,
            duration_ms=r.duration_ms,
            branch=r.branch,
            error_detail={"reused_from_step_run": r.pk},
        )
        for r in latest.values()
    )
    # Finished rows are counted, so the first claim knows it has something to read (see RunState).
    Execution.objects.filter(pk=new.pk).update(steps_done=len(latest))
