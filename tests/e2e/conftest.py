"""Real Celery worker processes (with embedded Beat) against the test database and the broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from faos.celery import app
from tests.fakes import FakeServer

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database the tests are using, for the worker process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """One `celery worker` process (with embedded Beat unless beat=False) in its own process group, so SIGKILL
    takes its children too; `queues` is its -Q list (default: every queue), `name` its node name prefix."""

    def __init__(self, log_dir: Path, env: dict, *, queues: str | None = None, beat: bool = True, name: str = "e2e"):
        self.log = log_dir / f"worker-{uuid.uuid4().hex[:6]}.log"
        self.node = f"{name}-{uuid.uuid4().hex[:6]}"  # its step runs' `worker` starts with "<node>@"
        options = ["-B", "-s", str(log_dir / "beat-schedule")] if beat else []
        options += ["-Q", queues] if queues else []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "faos",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "-n",
                f"{self.node}@%h",
                *options,
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log.read_text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready:\n{self.log.read_text()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no acks, no cleanup."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def fake_server():
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    """Start real worker processes on demand; all are stopped before the test database is flushed."""
    app.control.purge()  # messages left by an earlier run point at rows that no longer exist
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
        worker.stop()


def activity():
    """A fingerprint of the work in the database: it changes whenever a step run is added, claimed or finished,
    or a run changes status."""
    from django.db.models import Count, Max, Q

    from executions.models import Execution, StepRun

    steps = StepRun.objects.aggregate(
        rows=Count("id"),
        last=Max("id"),
        running=Count("id", filter=Q(status="running")),
        finished=Count("id", filter=Q(finished_at__isnull=False)),
        claims=Max("claims"),
    )
    runs = Execution.objects.values_list("status").annotate(n=Count("id")).order_by("status")
    return tuple(steps.values()), tuple(runs)


def where_runs(limit: int = 5) -> str:
    """Where the unfinished runs are (each step run: key, attempt, status, wake-up time), for a timeout's message."""
    from executions.models import Execution

    try:
        lines = []
        for execution in Execution.objects.unfinished().order_by("-id")[:limit]:
            steps = execution.step_runs.order_by("id").values_list("step_key", "attempt", "status", "wake_at")
            lines.append(f"run #{execution.pk} {execution.status}: {list(steps)}")
        return "; ".join(lines) or "no unfinished run"
    except Exception as exc:  # the message must not hide the timeout
        return f"(could not read the runs: {exc!r})"


def wait_for(
    predicate,
    timeout: float = 60,
    interval: float = 0.2,
    message: str = "condition",
    progress=activity,
    ceiling: float | None = None,
):
    """Poll until predicate() is truthy; return its value.

    Waits on progress, not on a fixed time: it fails when `progress()` (by default the step runs and runs in the
    database) has not changed for `timeout` seconds, or after `ceiling` seconds in all (default: ten times
    `timeout`, at least 300 s), so a loaded machine that is slow but still working is not a failure. The
    failure says where the unfinished runs are. `progress=None` waits a fixed `timeout`.
    """
    start = last_change = time.monotonic()
    ceiling = ceiling if ceiling is not None else max(10 * timeout, 300)
    seen = _progress(progress)
    while True:
        value = predicate()
        if value:
            return value
        now = time.monotonic()
        if now - last_change >= timeout or now - start >= ceiling:
            break
        time.sleep(interval)
        current = _progress(progress)
        if current is not None and current != seen:
            seen, last_change = current, time.monotonic()
    stalled = time.monotonic() - last_change
    raise AssertionError(
        f"timed out waiting for {message}: {stalled:.0f}s without progress, {time.monotonic() - start:.0f}s in all; "
        f"{where_runs()}"
    )


def _progress(progress):
    if progress is None:
        return None
    try:
        return progress()
    except Exception:  # a database blip: count it as no progress
        return None
