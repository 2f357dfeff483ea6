"""Step leases: a claim lasts FAOS_LEASE_GRACE_SECONDS from its last renewal, and the worker renews it while the
step runs, so the sweep takes a step only from a worker that stopped renewing (it died), never from a busy one."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from ..models import StepRun

logger = logging.getLogger(__name__)


def lease_until(now: datetime | None = None) -> datetime:
    """When a lease taken or renewed now runs out."""
    return (now or timezone.now()) + timedelta(seconds=settings.FAOS_LEASE_GRACE_SECONDS)


def heartbeat_every() -> float:
    """Renew three times per lease, so one slow renewal never lets a lease run out."""
    return max(settings.FAOS_LEASE_GRACE_SECONDS / 3, 0.05)


def steprun_renew(*, step_run_id: int, worker: str) -> bool:
    """Extend a running step's lease; False when this worker no longer holds it (cancelled, or taken over)."""
    held = StepRun.objects.filter(pk=step_run_id, status=StepRun.Status.RUNNING, lease_owner=worker)
    try:
        return bool(held.update(lease_expires_at=lease_until()))
    except DatabaseError:  # a blip: keep working; if the lease runs out meanwhile, the late result is dropped
        logger.warning("step run %s: could not renew its lease", step_run_id, exc_info=True)
        return True
