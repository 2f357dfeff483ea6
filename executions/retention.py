"""Retention: delete finished runs older than a cutoff, with what hangs off them, in short transactions.

An operator tool, authorization-neutral: no user is asked for (the `prune_executions` command and the daily
Beat task call it); whoever can run it can already read and write the whole database.

What goes with a run: its step runs, its approvals (their decisions and approver lists) and its closed
(done or cancelled) tasks. What stays: open tasks (someone's live work; they lose the link, as the models'
SET_NULL says), events (not owned by a run: one event may have started or resumed many) and every unfinished
run. Links from kept runs to pruned ones (a retry's `retry_of`, a child's `parent_step_run`) are cleared the
same way. A run is kept while a run that points at it (a retry, or a sub-workflow child) is unfinished, so
the prune never writes a row the runtime may be working on.

Each batch selects at most `batch_size` runs by ascending id (`FOR UPDATE SKIP LOCKED` on PostgreSQL: a row
someone holds is left for the next prune, never waited for), deletes their rows with plain DELETEs (no
collector loading objects into memory) and commits; only rows of finished runs are ever locked.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .models import Approval, ApprovalDecision, Execution, StepRun, Task

# Runs per transaction: at ~10 step runs each about 5,000 rows and half a second, most of it the foreign-key
# checks at commit (bench/prune_1m.py); only rows of finished runs are locked meanwhile.
DEFAULT_BATCH_SIZE = 500
CLOSED_TASKS = (Task.Status.DONE, Task.Status.CANCELLED)
COUNTED = ("executions", "step_runs", "approvals", "tasks_deleted", "tasks_unlinked")


class RetentionError(ValueError):
    """A prune asked for something it must never do (an unfinished status, a non-positive age or batch)."""


def prune_statuses(statuses: Iterable[str] | None) -> tuple[str, ...]:
    """The finished statuses to prune (all of them by default); an unfinished or unknown one is refused."""
    if statuses is None:
        return tuple(Execution.FINISHED)
    if isinstance(statuses, str):  # "failed,timed_out"
        statuses = statuses.split(",")
    chosen = tuple(dict.fromkeys(s.strip() for s in statuses if s.strip()))
    wrong = [s for s in chosen if s not in Execution.FINISHED]
    if wrong or not chosen:
        allowed = ", ".join(Execution.FINISHED)
        raise RetentionError(f"only finished runs can be pruned ({allowed}); got {', '.join(wrong) or 'nothing'}")
    return chosen


def prunable(*, cutoff, statuses: Iterable[str]) -> QuerySet[Execution]:
    """Finished runs that ended before the cutoff and no unfinished retry or child run points at."""
    unfinished = Execution.objects.filter(status__in=Execution.UNFINISHED)
    return Execution.objects.filter(
        # created_at <= finished_at, so the created_at test is implied; it lets the indexed column narrow the scan.
        Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True),  # a finished row without the time ages by created_at
        status__in=list(statuses),
        created_at__lt=cutoff,
    ).filter(
        ~Exists(unfinished.filter(retry_of=OuterRef("pk"))),
        ~Exists(unfinished.filter(parent_step_run__execution=OuterRef("pk"))),
    )


def executions_prune(
    *,
    older_than: timedelta,
    statuses: Iterable[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    now=None,
) -> dict:
    """Delete finished runs older than `older_than` and their rows, batch by batch; returns the counts."""
    if older_than <= timedelta(0):
        raise RetentionError("older_than must be more than zero")
    if batch_size < 1:
        raise RetentionError("batch_size must be at least 1")
    cutoff = (now or timezone.now()) - older_than
    candidates = prunable(cutoff=cutoff, statuses=prune_statuses(statuses))
    started = time.monotonic()
    report = _count(candidates) if dry_run else _prune(candidates, batch_size)
    report.update(cutoff=cutoff.isoformat(), dry_run=dry_run, seconds=round(time.monotonic() - started, 3))
    return report


def executions_prune_expired() -> dict | None:
    """The daily Beat job: prune every finished status past FAOS_RETENTION_DAYS; None when 0 (keep forever)."""
    days = settings.FAOS_RETENTION_DAYS
    if days <= 0:
        return None
    return executions_prune(older_than=timedelta(days=days))


def _count(candidates: QuerySet[Execution]) -> dict:
    """What a prune would delete now, without locking or deleting anything."""
    tasks = Task.objects.filter(execution__in=candidates)
    return {
        "executions": candidates.count(),
        "step_runs": StepRun.objects.filter(execution__in=candidates).count(),
        "approvals": Approval.objects.filter(execution__in=candidates).count(),
        "tasks_deleted": tasks.filter(status__in=CLOSED_TASKS).count(),
        "tasks_unlinked": tasks.exclude(status__in=CLOSED_TASKS).count(),
        "batches": 0,
    }


def _prune(candidates: QuerySet[Execution], batch_size: int) -> dict:
    report = dict.fromkeys(COUNTED, 0) | {"batches": 0}
    after = 0
    while True:
        with transaction.atomic():
            ids = _lock_batch(candidates, after, batch_size)
            if not ids:
                return report
            for name, value in _delete(ids).items():
                report[name] += value
        report["batches"] += 1
        after = ids[-1]  # keyset, not OFFSET: rows skipped as locked stay behind, dead index entries are not rescanned


def _lock_batch(candidates: QuerySet[Execution], after: int, size: int) -> list[int]:
    rows = candidates.filter(id__gt=after).order_by("id").select_for_update(skip_locked=True, of=("self",))
    return list(rows.values_list("id", flat=True)[:size])


def _delete(ids: list[int]) -> dict:
    """Delete one locked batch of runs and their rows (caller holds the transaction); returns the counts."""
    steps = StepRun.objects.filter(execution_id__in=ids)
    approval_ids = list(Approval.objects.filter(execution_id__in=ids).values_list("id", flat=True))
    if approval_ids:
        for field in ("approvers", "approver_groups", "escalation_groups"):
            _raw_delete(getattr(Approval, field).through.objects.filter(approval_id__in=approval_ids))
        _raw_delete(ApprovalDecision.objects.filter(approval_id__in=approval_ids))
    counts = {
        "approvals": _raw_delete(Approval.objects.filter(id__in=approval_ids)) if approval_ids else 0,
        "tasks_deleted": _raw_delete(Task.objects.filter(execution_id__in=ids, status__in=CLOSED_TASKS)),
        "tasks_unlinked": Task.objects.filter(execution_id__in=ids).update(execution=None, step_run=None),
    }
    # The database's foreign keys have no ON DELETE: what Django would SET NULL is cleared here, by hand.
    Task.objects.filter(step_run__in=steps).update(step_run=None)
    kept = Execution.objects.exclude(id__in=ids)
    kept.filter(retry_of_id__in=ids).update(retry_of=None)
    kept.filter(parent_step_run__in=steps).update(parent_step_run=None)
    counts["step_runs"] = _raw_delete(steps)
    counts["executions"] = _raw_delete(Execution.objects.filter(id__in=ids))
    return counts


def _raw_delete(queryset: QuerySet) -> int:
    """One DELETE statement: Django's collector would load every row and its relations into memory first."""
    return queryset._raw_delete(queryset.db)
