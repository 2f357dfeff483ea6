"""Real Celery worker processes (with embedded Beat) against the test database and the broker."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from bench.workers import Worker, activity, database_url, purge_broker, wait_for, where_runs
from tests.fakes import FakeServer

# Imported from here by other tests.
__all__ = ["Worker", "activity", "database_url", "purge_broker", "wait_for", "where_runs"]


@pytest.fixture
def fake_server():
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Start real worker processes on demand; all are SIGKILLed before the test database is flushed (the test is
    over: a warm shutdown would only add ~3 s, and a killed process's connections end with it)."""
    purge_broker()  # messages left by an earlier run point at rows that no longer exist
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "FAOS_BROKER_DIR": str(settings.BROKER_DIR),
        "FAOS_SWEEP_INTERVAL": "1",
        "FAOS_LEASE_GRACE_SECONDS": "1",
        "FAOS_HTTP_ALLOW_HOSTS": "127.0.0.1",
        "EMAIL_URL": "consolemail://",
        "CONN_MAX_AGE": "0",
    }
    workers: list[Worker] = []

    def start(*, queues: str | None = None, beat: bool = True, name: str = "e2e", **overrides: str) -> Worker:
        """A worker on `queues` (-Q; default all); `overrides` replace environment variables, e.g. the broker."""
        workers.append(Worker(tmp_path, {**env, **overrides}, queues=queues, beat=beat, name=name))
        return workers[-1]

    yield start
    for worker in workers:
        worker.kill()
