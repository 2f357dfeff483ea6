"""Celery tasks: thin shells that take ids and call the runtime. The database is the truth."""

import logging

from celery import shared_task

from . import runtime
from .sweep import sweep as sweep_service

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def run_execution(execution_id: int) -> int:
    """Run the execution's runnable steps; a duplicate message finds nothing to claim and returns."""
    return runtime.execution_run(execution_id=execution_id)


@shared_task(ignore_result=True)
def sweep() -> dict:
    """Beat runs this every few seconds: lease recovery, timers, run time-outs."""
    report = sweep_service()
    if report.leases_recovered or report.timed_out:
        logger.info("sweep: %s", report)
    return {"recovered": len(report.leases_recovered), "timed_out": len(report.timed_out), "kicked": len(report.kicked)}
