"""The Beat-driven sweep: recover steps whose worker died, wake due timers, time out overdue runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from ..models import Execution, StepRun
from ..services import enqueue, execution_finish, timeout_message, timer_horizon
from . import routing, starts
from .outbox import outbox_due

logger = logging.getLogger(__name__)

BATCH = 500
# A runnable step nobody claimed for this long had its message lost (or the queue is backed up);
# kicking it again is harmless because claiming is guarded by row locks.
STALE_AFTER = timedelta(seconds=30)
# A recovered step goes out on the sweep queue, which holds no backlog: still unclaimed this long after, with that
# queue empty, its message was lost (a broker restart) and it is told again there, not once the steps queue drains.
RECOVERY_STALE_AFTER = timedelta(seconds=10)
ARM_BATCH = 2000  # timers armed per pass: they are due within two intervals, so this bounds the worker's memory


@dataclass
class SweepReport:
    """What one sweep did, for logs and tests."""

    leases_recovered: list[int] = field(default_factory=list)
    timed_out: list[int] = field(default_factory=list)
    kicked: list[int] = field(default_factory=list)
    armed: list[int] = field(default_factory=list)  # executions sent a countdown for a timer due before next sweep
    delivered: list[int] = field(default_factory=list)  # outbox rows whose hint was lost or whose back-off ended
    broker_lost: bool = False  # the broker had lost its queues: every told step was told again


def sweep(*, now=None) -> SweepReport:
    """One pass; safe to run from several Beat instances at once (SKIP LOCKED everywhere)."""
    now = now or timezone.now()
    report = SweepReport(broker_lost=routing.broker_lost_messages())
    report.leases_recovered = _recover_leases(now)
    report.timed_out = _time_out(now)
    _wake_orphaned_parents(now)
    # Recovered steps first: they go out on the sweep queue, ahead of any backlog, and are then told already.
    report.kicked = _resend_lost_recoveries(now, report.broker_lost) + _kick(now, report.broker_lost)
    report.armed = _arm_timers(now, report.broker_lost)
    report.delivered = outbox_due(now=now)
    return report


@transaction.atomic
def _recover_leases(now) -> list[int]:
    """A running step past its lease lost its worker: make the same attempt runnable again, and say so on the
    sweep queue, which every worker also consumes, so it runs again within seconds rather than after the backlog."""
    expired = StepRun.objects.lease_expired(now).select_for_update(skip_locked=True)
    rows = list(expired.values_list("id", "execution_id")[:BATCH])
    StepRun.objects.filter(id__in=[r[0] for r in rows], status=StepRun.Status.RUNNING).update(
        status=StepRun.Status.PENDING, lease_owner="", lease_expires_at=None, enqueued_at=now
    )
    for execution_id in sorted({r[1] for r in rows}):
        enqueue(execution_id, queue=routing.SWEEP)
    return [r[0] for r in rows]


def _time_out(now) -> list[int]:
    done = []
    ids = list(Execution.objects.past_deadline(now).values_list("id", flat=True)[:BATCH])
    for execution_id in ids:
        with transaction.atomic():
            execution = Execution.objects.select_for_update(skip_locked=True).filter(pk=execution_id).first()
            if execution and not execution.is_finished:
                execution_finish(
                    execution=execution, status=Execution.Status.TIMED_OUT, error=timeout_message(execution)
                )
                done.append(execution_id)
    return done


def _wake_orphaned_parents(now) -> None:
    """A child that finished while its parent step was still parking: wake the parent now (safety net)."""
    StepRun.objects.filter(
        status=StepRun.Status.PENDING, waiting_for="subworkflow", children__status__in=Execution.FINISHED
    ).update(wake_at=now, waiting_for="", enqueued_at=None)


@transaction.atomic
def _kick(now, broker_lost: bool = False) -> list[int]:
    """Enqueue executions with runnable steps nobody was told about: due timers and lost messages.

    A step told about long ago may only be waiting in a backed-up queue: it is told again only when the queues
    are empty (its message was lost), so a backlog of N runs stays about N messages instead of growing each pass.
    After the broker lost its queues, every step told before now is told again.
    """
    if broker_lost:
        return _tell(StepRun.objects.needs_kick(now, now), now)
    stale_before = now - STALE_AFTER
    if _queued_work():  # 0 or None (cannot tell): fall back to time alone
        stale_before = None
    return _tell(StepRun.objects.needs_kick(now, stale_before), now)


def _queued_work() -> int | None:
    """Messages waiting on the steps and agents queues, with the new runs waiting in the starts list (their
    message); None when the broker cannot tell."""
    depth = routing.queue_depth(routing.STEPS, routing.AGENTS)
    try:
        return None if depth is None else depth + starts.waiting()
    except RedisError:
        logger.warning("could not read the starts list", exc_info=True)
        return None


@transaction.atomic
def _resend_lost_recoveries(now, broker_lost: bool = False) -> list[int]:
    """Tell the sweep queue again about recovered steps (claimed before, so no timer or first message is theirs)
    that nobody has claimed since they were told, when that queue is empty: their message did not survive."""
    if not broker_lost and routing.queue_depth(routing.SWEEP):  # 0 or None (cannot tell): the time alone decides
        return []
    stale_before = now if broker_lost else now - RECOVERY_STALE_AFTER
    recovered = StepRun.objects.runnable(now).filter(claims__gt=0, wake_at__isnull=True, waiting_for="")
    return _tell(recovered.filter(enqueued_at__lt=stale_before), now, queue=routing.SWEEP)


def _tell(steps, now, queue: str | None = None) -> list[int]:
    """Mark a batch of these steps told now (rows others hold are skipped) and send their runs one message each."""
    rows = list(steps.select_for_update(skip_locked=True).values_list("id", "execution_id")[:BATCH])
    StepRun.objects.filter(id__in=[r[0] for r in rows]).update(enqueued_at=now)
    execution_ids = sorted({r[1] for r in rows})
    for execution_id in execution_ids:
        enqueue(execution_id, queue=queue)
    return execution_ids


@transaction.atomic
def _arm_timers(now, broker_lost: bool = False) -> list[int]:
    """Timers due before the sweep after next get a countdown message for their exact time, so a wait wakes on
    time rather than at the next sweep; only these are held by the worker, however many runs are parked."""
    stale_before = now if broker_lost else now - STALE_AFTER  # a countdown still in a lost queue is gone too
    soon = (
        StepRun.objects.filter(status=StepRun.Status.PENDING, wake_at__gt=now, wake_at__lte=now + timer_horizon())
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale_before))
        .select_for_update(skip_locked=True)
    )
    rows = list(soon.values_list("id", "execution_id", "wake_at")[:ARM_BATCH])
    StepRun.objects.filter(id__in=[r[0] for r in rows]).update(enqueued_at=now)
    timers = sorted({(r[1], r[2]) for r in rows})  # one message per run and wake-up time
    for execution_id, wake_at in timers:
        enqueue(execution_id, wake_at=wake_at)
    return sorted({execution_id for execution_id, _ in timers})
