"""Celery tasks: thin shells that take ids and call the runtime. The database is the truth."""

import contextlib
import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from ops.models import heartbeat

from . import retention, runtime, services
from .runtime import outbox, routing, starts
from .runtime.sweep import sweep as sweep_service

logger = logging.getLogger(__name__)


# The database went away (a restart, a fail-over): try again at once and then with a short back-off, rather than
# leave the run to the sweep's next lease recovery. Every step the retry finds is still guarded by its lease.
DATABASE_GONE = (OperationalError, InterfaceError)
RUNS_STEPS = {  # the options of a task that runs steps
    "bind": True,
    "acks_late": True,
    "ignore_result": True,
    "autoretry_for": DATABASE_GONE,
    "retry_backoff": 0.5,
    "retry_backoff_max": 10,
    "retry_jitter": True,
    "max_retries": 60,
}


@shared_task(**RUNS_STEPS)
def run_execution(self, execution_id: int) -> int:
    """Run the execution's runnable steps; a duplicate message finds nothing to claim and returns."""
    ran = _run(self.request, execution_id)
    if not ran and getattr(self.request, "eta", None):
        # A timer's message that found its step not due yet (it came a little early): send it again for the
        # time left rather than leave the wake-up to the next sweep.
        services.timer_rearm(execution_id)
    return ran


@shared_task(**RUNS_STEPS)
def drain_starts(self) -> int:
    """Run a batch of the new runs waiting in the starts list (runtime/starts.py): one message for several runs."""
    return len(starts.drain(lambda execution_id: _run(self.request, execution_id), retry=DATABASE_GONE))


def _run(request, execution_id: int) -> int:
    worker = runtime.worker_id(getattr(request, "hostname", None))  # the Celery node name, e.g. agents1@host
    here = outbox.delivered_here() if settings.FAOS_RUN_DELIVERS_EVENTS else contextlib.nullcontext()
    with here:  # the run's events (execution.succeeded, …) go out from here, not as one more message each
        return runtime.execution_run(execution_id=execution_id, worker=worker, lane=routing.worker_lane())


@shared_task(ignore_result=True)
def deliver_outbox(message_id: int, kind: str | None = None) -> bool:
    """Deliver one outbox row (an event, e-mail or chat notice); a duplicate or late message finds it sent."""
    return outbox.outbox_deliver(message_id, kind=kind)


@shared_task(ignore_result=True)
def sweep() -> dict:
    """Beat runs this every few seconds: lease recovery, timers, run time-outs."""
    report = sweep_service()
    heartbeat("sweep")  # /health/'s Beat check: stale after three intervals means Beat (or this queue) stopped
    if report.leases_recovered or report.timed_out or report.broker_lost:
        logger.info("sweep: %s", report)
    return {
        "recovered": len(report.leases_recovered),
        "timed_out": len(report.timed_out),
        "kicked": len(report.kicked),
        "armed": len(report.armed),
        "delivered": len(report.delivered),
        "broker_lost": report.broker_lost,
    }


@shared_task(ignore_result=True)
def prune_executions() -> dict | None:
    """Beat runs this daily: delete finished runs older than FAOS_RETENTION_DAYS (0 keeps them all), and the spent
    decision-link and Slack keys whose links have expired."""
    from .decision_links import decision_keys_prune

    forgotten = decision_keys_prune()
    if forgotten:
        logger.info("prune_executions: %s spent decision keys forgotten", forgotten)
    report = retention.executions_prune_expired()
    if report is not None:
        logger.info("prune_executions: %s", report)
    return report
