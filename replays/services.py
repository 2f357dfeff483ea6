"""Replay services: ask for a replay, start its test runs (on a worker), collect each run's report, find the latest.

    replay = replay_request(workflow=wf, user=editor, selection={"last": 50})   # 4xx-ready ValidationError
    replay_latest_for(workflow=wf, version=draft_version)                       # four-eyes activation shows it

The request freezes the draft as a version and writes one item per past run, plus an outbox row; the worker that
delivers the row starts one test run per item (executions.replaying feeds it what the original met). Each replay
run that ends writes a `replay_collect` outbox row in its finishing transaction; its delivery compares the two
runs (replays.report) and counts the replay's progress. The database is the truth: a lost message is re-sent by
the sweep, and a repeated one finds its work done.
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from executions.models import Execution, StepRun
from executions.runtime import outbox
from executions.services import execution_start
from integrations.actions import CONNECTION_FIELD
from workflows import authz
from workflows.models import Workflow, WorkflowVersion
from workflows.services import WorkflowInvalid, definition_validate, workflow_definition, workflow_snapshot

from . import report, selection
from .models import Replay, ReplayItem

logger = logging.getLogger(__name__)

REPLAY_START = "replay_start"
START_BATCH = 20  # replay runs started per transaction
STEP_FIELDS = ("step_key", "step_kind", "scope", "visit", "status", "branch", "input", "output", "error")
RUN_FIELDS = ("status", "error", "error_step", "output")


@transaction.atomic
def replay_request(*, workflow: Workflow, user, selection_data) -> Replay:
    """Freeze the draft and queue a replay of the selected past runs; ValidationError / WorkflowInvalid otherwise."""
    authz.require(user, "replay", workflow)
    picked = selection.selection_clean(selection_data)
    unknown = selection.unknown_runs(workflow, picked)
    if unknown:
        ids = ", ".join(f"#{pk}" for pk in unknown[:10])
        raise ValidationError({"executions": f"Not a finished live run of '{workflow.name}': {ids}."})
    draft = _draft_version(workflow, user)
    originals = list(selection.candidates(workflow, picked).values_list("pk", flat=True))
    if not originals:
        raise ValidationError({"selection": "No finished live run of this workflow matches: widen the selection."})
    replay = Replay.objects.create(
        workflow=workflow,
        draft_version=draft,
        base_version_id=workflow.active_version_id,
        requested_by=user,
        selection=picked,
        total=len(originals),
    )
    ReplayItem.objects.bulk_create(ReplayItem(replay=replay, original_execution_id=pk) for pk in reversed(originals))
    outbox.outbox_add(kind=REPLAY_START, payload={"replay_id": replay.pk}, key=f"replay:{replay.pk}:start")
    return replay


def _draft_version(workflow: Workflow, user) -> WorkflowVersion:
    """The draft frozen as a version (as a test run does); it must differ from the active version."""
    problems = definition_validate(definition=workflow_definition(workflow=workflow))
    problems = [p for p in problems if p.field != CONNECTION_FIELD]  # test runs record calls: no connection needed
    if problems:
        raise WorkflowInvalid(problems)
    version = workflow_snapshot(workflow=workflow, user=user, note="replay")
    if version.pk == workflow.active_version_id:
        raise ValidationError({"workflow": "The draft is the same as the active version: change it, then replay."})
    return version


@outbox.sender(REPLAY_START)
def replay_start(*, replay_id: int) -> int:
    """Start a test run of the draft for each item not started yet; returns how many started."""
    now = timezone.now()
    Replay.objects.filter(pk=replay_id, status=Replay.Status.QUEUED).update(
        status=Replay.Status.RUNNING, started_at=now
    )
    replay = Replay.objects.select_related("workflow", "draft_version", "requested_by").filter(pk=replay_id).first()
    if replay is None or replay.is_finished:
        return 0
    waiting = replay.items.filter(replay_execution__isnull=True, verdict=ReplayItem.Verdict.PENDING)
    ids = list(waiting.values_list("pk", flat=True))
    started = 0
    for first in range(0, len(ids), START_BATCH):
        with transaction.atomic():  # a few commits for a hundred runs; each batch's runs go to workers at its commit
            started += sum(_start_item(replay, item_id) for item_id in ids[first : first + START_BATCH])
    _count_progress(replay_id)
    return started


def _start_item(replay: Replay, item_id: int) -> int:
    """One past run's input through the draft as a fast-forwarded test run (a repeat finds it started)."""
    item = ReplayItem.objects.select_for_update(of=("self",)).select_related("original_execution").get(pk=item_id)
    if item.replay_execution_id or item.verdict != ReplayItem.Verdict.PENDING:
        return 0
    original = item.original_execution
    if original is None:
        return _not_started(item, "The original run no longer exists (pruned or deleted).")
    meta = {k: v for k, v in original.trigger_meta.items() if k == "headers"}  # what `trigger.headers` reads
    meta |= {"fast_forward": True, "replay": {"of": original.pk, "item": item.pk, "replay": replay.pk}}
    try:
        with transaction.atomic():
            run = execution_start(
                workflow=replay.workflow,
                input=original.input,
                trigger_kind=original.trigger_kind,
                source=original.trigger_source,
                user=replay.requested_by,
                is_test=True,
                version=replay.draft_version,
                trigger_meta=meta,
            )
    except (ValidationError, PermissionDenied) as exc:
        return _not_started(item, "; ".join(getattr(exc, "messages", [str(exc)])))
    item.replay_execution = run
    item.save(update_fields=["replay_execution"])
    return 1


def _not_started(item: ReplayItem, error: str) -> int:
    item.verdict, item.error, item.finished_at = ReplayItem.Verdict.NOT_STARTED, error[:2000], timezone.now()
    item.save(update_fields=["verdict", "error", "finished_at"])
    return 0


@outbox.sender(outbox.REPLAY_COLLECT)
def replay_collect(*, execution_id: int) -> bool:
    """A replay run ended: compare it with its original and count the replay's progress (in the caller's
    transaction: the outbox marks the row sent with it). False when there was nothing (left) to do."""
    item = ReplayItem.objects.select_for_update().filter(replay_execution_id=execution_id).first()
    if item is None or item.verdict != ReplayItem.Verdict.PENDING:
        return False
    old, new = trace_of(item.original_execution_id), trace_of(execution_id)
    compared = report.compare(old, new)
    item.verdict = report.verdict(old, new, compared["differences"])
    item.outcome_changed = compared["outcome_changed"]
    item.diff = {"old": report.stored(old), "new": report.stored(new), **compared}
    item.finished_at = timezone.now()
    item.save(update_fields=["verdict", "outcome_changed", "diff", "finished_at"])
    _count_progress(item.replay_id)
    return True


def trace_of(execution_id: int | None) -> dict:
    """A run's path as replays.report reads it (an empty one for a run that no longer exists)."""
    run = Execution.objects.filter(pk=execution_id).values(*RUN_FIELDS).first() if execution_id else None
    if run is None:
        return report.trace({"status": "missing", "error": "The run no longer exists."}, [])
    rows = StepRun.objects.filter(execution_id=execution_id).order_by("id").values(*STEP_FIELDS)
    return report.trace(run, list(rows))


def _count_progress(replay_id: int) -> None:
    """Done = items compared (or not started); the last one finishes the replay with its summary."""
    with transaction.atomic():
        replay = Replay.objects.select_for_update().get(pk=replay_id)
        verdicts = list(replay.items.values_list("verdict", flat=True))
        done = sum(v != ReplayItem.Verdict.PENDING for v in verdicts)
        replay.done = done
        fields = ["done"]
        if done >= replay.total and not replay.is_finished:
            replay.status, replay.finished_at = Replay.Status.FINISHED, timezone.now()
            replay.summary = report.summary(verdicts)
            fields += ["status", "finished_at", "summary"]
        replay.save(update_fields=fields)


def replay_latest_for(*, workflow: Workflow, version: WorkflowVersion) -> Replay | None:
    """The newest replay of this draft version (finished or not), or None: what an activation request shows."""
    return Replay.objects.latest_for(workflow, version)


def replay_progress(replay: Replay) -> dict:
    """done / total and the summary so far (verdicts of the items compared), for the admin and the API."""
    verdicts = list(replay.items.values_list("verdict", flat=True))
    return {"done": replay.done, "total": replay.total, "summary": report.summary(verdicts)}
