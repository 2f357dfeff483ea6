"""Health checks for load balancers, orchestrators, cron and systemd: each answers (ok, detail) quickly.

A failed check says only what failed, never the exception text: a broker or database error can carry a
URL with its password.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from faos.celery import app

from .models import Heartbeat

logger = logging.getLogger(__name__)

SWEEP = "sweep"  # the heartbeat the Beat-driven sweep task records
STALE_INTERVALS = 3  # Beat is dead once the sweep has not run for this many of its intervals
_memo: dict[str, tuple[float, tuple[bool, str]]] = {}  # per process: the workers' last answer


def check_database() -> tuple[bool, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return True, ""


def check_broker() -> tuple[bool, str]:
    """Open a connection to the broker (Redis, RabbitMQ or the filesystem transport) and close it."""
    timeout = settings.FAOS_HEALTH_TIMEOUT
    with app.connection_for_write(connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
        conn.default_channel  # noqa: B018 - a channel proves the broker answers, not just that a socket opened
    return True, ""


def sweep_interval() -> float:
    """Seconds between sweeps, as the Beat schedule in settings says (FAOS_SWEEP_INTERVAL)."""
    schedule = settings.CELERY_BEAT_SCHEDULE.get("faos-sweep", {}).get("schedule", 5.0)
    return schedule.total_seconds() if isinstance(schedule, timedelta) else float(schedule)


def check_beat() -> tuple[bool, str]:
    """Beat is alive when the sweep it schedules ran within the last three intervals."""
    at = Heartbeat.objects.filter(name=SWEEP).values_list("at", flat=True).first()
    if at is None:
        return False, "the sweep has never run"
    age = (timezone.now() - at).total_seconds()
    return age <= STALE_INTERVALS * sweep_interval(), f"last sweep {age:.0f} s ago"


def check_workers() -> tuple[bool, str]:
    """A Celery control ping answered by at least one worker; remembered a few seconds, so probes stay cheap."""
    cached = _memo.get("workers")
    if cached and time.monotonic() - cached[0] < settings.FAOS_HEALTH_WORKERS_CACHE_SECONDS:
        return cached[1]
    answers = app.control.ping(timeout=settings.FAOS_HEALTH_TIMEOUT, limit=1)  # returns at the first pong
    result = (bool(answers), "a worker answered" if answers else "no worker answered")
    _memo["workers"] = (time.monotonic(), result)
    return result


def check_migrations() -> tuple[bool, str]:
    """Every migration on disk is applied; once true it stays true for this process (code does not change)."""
    if _memo.get("migrations"):
        return True, ""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        return False, f"{len(plan)} migration(s) not applied"
    _memo["migrations"] = (time.monotonic(), (True, ""))
    return True, ""


CHECKS = {
    "database": check_database,
    "broker": check_broker,
    "beat": check_beat,
    "workers": check_workers,
    "migrations": check_migrations,
}


def forget() -> None:
    """Drop what this process remembered (the workers' answer, applied migrations): for tests."""
    _memo.clear()


def run_checks(names: list[str] | None = None) -> dict:
    """{"status": "ok"|"fail", "checks": {name: {"ok", "ms", "detail"?}}} for the named checks (all by default)."""
    results = {}
    for name in names or CHECKS:
        started = time.perf_counter()
        try:
            ok, detail = CHECKS[name]()
        except Exception as exc:
            ok, detail = False, "unreachable"
            logger.warning("health check %s failed: %s", name, type(exc).__name__)
        results[name] = {"ok": ok, "ms": round((time.perf_counter() - started) * 1000, 1)}
        if detail:
            results[name]["detail"] = detail
    return {"status": "ok" if all(r["ok"] for r in results.values()) else "fail", "checks": results}
