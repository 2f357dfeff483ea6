"""The outbox: events, e-mails and chat notices are rows written in the transaction that decides them, then
delivered by a Celery task (hinted after the commit, like enqueue) or by the sweep, retried with back-off and
marked sent. A worker killed between the commit and the delivery loses nothing: the row is still pending.
An event nobody listens to (no trigger, no waiting step) is simply stored in the deciding transaction: with
nothing to start or wake there is nothing to deliver, so it costs one INSERT instead of a row and its delivery.

Delivery is once per row. An event is pure database work, so it is emitted in the same transaction that marks
its row sent (a crash rolls both back). An e-mail or chat notice is claimed first (pending → delivering with a
lease, in one UPDATE), sent, then marked sent; only a worker that dies mid-send leaves it to be sent again once
the lease lapses.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from faos.db import commit_without_waiting

from ..models import OutboxMessage

logger = logging.getLogger(__name__)

EVENT, EMAIL, NOTIFY_APPROVERS, OWNER_FAILURE = "event", "email", "notify_approvers", "owner_failure"
NOTIFY_TASK, SLACK_RESPOND = "notify_task", "slack_respond"
REPLAY_COLLECT = "replay_collect"  # a replay run ended: its report row is written (replays.services)
DB_ONLY = frozenset({EVENT, REPLAY_COLLECT})  # database work: delivered in the transaction that marks it sent
LEASE = timedelta(seconds=120)  # a claimed e-mail not marked sent by then is tried again
GRACE = timedelta(seconds=2)  # the sweep leaves rows this fresh to the hint sent after their commit
MAX_ATTEMPTS = 10
_local = threading.local()  # the rows a task delivers itself (delivered_here)
BATCH = 100


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s … capped at an hour."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


def outbox_add(*, kind: str, payload: dict, key: str) -> int:
    """Record a message in the current (deciding) transaction; the same key never makes a second row."""
    message = OutboxMessage(kind=kind, payload=payload, key=key[:200], next_attempt_at=timezone.now())
    # One INSERT … ON CONFLICT (key) that returns the id either way (a repeated decision hints the same row).
    [message] = OutboxMessage.objects.bulk_create(
        [message], update_conflicts=True, unique_fields=["key"], update_fields=["key"]
    )
    message_id = message.pk
    here = getattr(_local, "here", None)
    if here is not None and kind in DB_ONLY:
        here.append(message_id)  # the task that decided it delivers it after its commit (see delivered_here)
    else:
        transaction.on_commit(lambda: _hint(message_id, kind))  # a hint only: the sweep delivers what it loses
    return message_id


@contextmanager
def delivered_here():
    """Events decided inside are delivered by this task right after, from their rows, instead of one more message
    each; if the task dies first, the sweep delivers them (they are rows, committed with the decision)."""
    outer, _local.here = getattr(_local, "here", None), []
    try:
        yield
    finally:
        here, _local.here = _local.here, outer  # nested (a run started eagerly inside another): the outer's list
        for message_id in here:
            outbox_deliver(message_id, kind=EVENT)  # a row rolled back with its transaction is simply not found


def _hint(message_id: int, kind: str) -> None:
    from .broker import task

    task("executions.tasks.deliver_outbox").delay(message_id, kind)


def outbox_deliver(message_id: int, *, kind: str | None = None, now=None) -> bool:
    """Deliver one row if it is due and nobody else holds it; True when this call sent it."""
    now = now or timezone.now()
    kind = kind or OutboxMessage.objects.filter(pk=message_id).values_list("kind", flat=True).first()
    if kind is None:
        return False
    return _deliver_in_transaction(message_id, now) if kind in DB_ONLY else _deliver_claimed(message_id, now)


def outbox_due(*, now=None) -> list[int]:
    """The sweep's pass: deliver due rows whose hint was lost (worker killed after the commit, broker down)
    or whose back-off ended, and rows whose claim lapsed (killed mid-send). Returns the ids sent."""
    now = now or timezone.now()
    due = _claimable(now) & (Q(attempts__gt=0) | Q(next_attempt_at__lte=now - GRACE))  # fresh rows: their hint
    with transaction.atomic():  # a glance past rows another sweep or worker holds
        rows = list(
            OutboxMessage.objects.filter(due)
            .order_by("next_attempt_at")
            .select_for_update(skip_locked=True)
            .values_list("id", "kind")[:BATCH]
        )
    return [message_id for message_id, kind in rows if outbox_deliver(message_id, kind=kind, now=now)]


def _claimable(now) -> Q:
    return Q(status__in=(OutboxMessage.Status.PENDING, OutboxMessage.Status.DELIVERING), next_attempt_at__lte=now)


def _deliver_in_transaction(message_id: int, now) -> bool:
    message = None
    try:
        with transaction.atomic():  # the emit and the mark-sent commit together, or neither does
            commit_without_waiting()  # lost in a crash, both are: the row is still unsent and the sweep sends it
            message = (
                OutboxMessage.objects.select_for_update(skip_locked=True).filter(_claimable(now), pk=message_id).first()
            )
            if message is None:
                return False  # sent, not due, or being delivered by someone else right now
            message.attempts += 1
            _send(message)
            _sent(message)
            return True
    except Exception as exc:
        if message is None:
            raise
        _failed(message, exc, now, attempts_before=message.attempts - 1)  # rolled back: still unchanged
        return False


def _deliver_claimed(message_id: int, now) -> bool:
    claimed = OutboxMessage.objects.filter(_claimable(now), pk=message_id).update(
        status=OutboxMessage.Status.DELIVERING, next_attempt_at=now + LEASE, attempts=F("attempts") + 1
    )
    if not claimed:
        return False  # a concurrent delivery holds it (or it is sent, or not due yet)
    message = OutboxMessage.objects.get(pk=message_id)
    try:
        _send(message)
    except Exception as exc:
        _failed(message, exc, timezone.now(), attempts_before=message.attempts)  # as our claim left it
        return False
    _sent(message)
    return True


def _sent(message: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENT, sent_at=timezone.now(), attempts=message.attempts, next_attempt_at=None
    )


def _failed(message: OutboxMessage, exc: Exception, now, *, attempts_before: int) -> None:
    """Back off (or give up); unless another delivery has moved the row on since (then it is theirs)."""
    gave_up = message.attempts >= MAX_ATTEMPTS
    error = f"{type(exc).__name__}: {exc}"[:300]  # short; payloads and errors never hold credentials
    logger.warning("outbox %s (%s) attempt %s failed: %s", message.pk, message.kind, message.attempts, error)
    OutboxMessage.objects.filter(
        pk=message.pk,
        attempts=attempts_before,
        status__in=(OutboxMessage.Status.PENDING, OutboxMessage.Status.DELIVERING),
    ).update(
        status=OutboxMessage.Status.FAILED if gave_up else OutboxMessage.Status.PENDING,
        attempts=message.attempts,
        next_attempt_at=None if gave_up else now + backoff(message.attempts),
        last_error=error,
    )


def _send(message: OutboxMessage) -> None:
    SENDERS[message.kind](**message.payload)


def _send_email(*, subject: str, body: str, to: list[str]) -> None:
    from django.conf import settings
    from django.core.mail import send_mail

    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)


SENDERS = {EMAIL: _send_email}  # the other kinds are registered by the modules that own them (see `sender`)
RECORDERS = {}  # kind → settles a message in its own transaction when it can (see `recorder`)


def sender(kind: str):
    """Register the function that delivers rows of `kind` (events, approval notices and failure notices register
    theirs from their own modules, so this module imports none of them)."""

    def register(function):
        SENDERS[kind] = function
        return function

    return register


def recorder(kind: str):
    """Register a function that settles a message of `kind` inside the deciding transaction when it can (it
    returns True), so no row is written; events register theirs (an event nobody listens to is just stored)."""

    def register(function):
        RECORDERS[kind] = function
        return function

    return register


def event_add(*, type: str, data: dict, key: str, source: str = "system", sender=None, about=None) -> int:
    """An event to emit once this transaction commits (event_emit's sender/about kept as ids); the row's id, or 0
    when nobody listened and the event was stored at once."""
    payload = {
        "type": type,
        "data": data,
        "source": source,
        "sender_id": getattr(sender, "pk", None),
        "about_id": getattr(about, "pk", None),
    }
    record = RECORDERS.get(EVENT)
    if record is not None and record(**payload):
        return 0
    return outbox_add(kind=EVENT, payload=payload, key=key)
