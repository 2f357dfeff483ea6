"""Real processes for the benchmarks and the end-to-end tests: Celery workers, Beat and gunicorn, each in its own
process group, plus `wait_for`, which waits on progress in the database rather than on a fixed time.

Shared by tests/e2e/conftest.py (the `start_worker` fixture) and the bench scripts; needs Django set up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ready, what: str, timeout: float = 60) -> None:
    """Poll `ready()` until it is truthy; a RuntimeError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")
        time.sleep(0.2)


# Each group's marks in a command line; the postmaster (bin/postgres) holds the CPU of its ended backends.
CPU_GROUPS = {
    "worker": ("celery -A faos",),
    "web": ("gunicorn",),
    "PostgreSQL": ("postgres:", "bin/postgres "),
    "Redis": ("redis-server",),
}


def purge_broker() -> None:
    """Drop every queued message and the runs waiting in the starts list (executions/runtime/starts.py): what an
    earlier run left points at rows that no longer exist."""
    from executions.runtime import starts
    from faos.celery import app

    app.control.purge()
    starts.purge()


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by each group of CPU_GROUPS (every live process whose command line has a mark of it,
    with its reaped children; Linux /proc) and by this process: take it before and after a measurement and subtract.
    PostgreSQL counts every backend of the server, so other databases' work shows there too."""
    tick, used = os.sysconf("SC_CLK_TCK"), dict.fromkeys(CPU_GROUPS, 0.0)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended meanwhile
            continue
        for group, marks in CPU_GROUPS.items():
            if any(mark in command for mark in marks):
                # utime + stime, and cutime + cstime: what its ended children used (a gunicorn worker recycled
                # after max_requests, a closed PostgreSQL backend) moves to their parent here and still counts.
                used[group] += sum(int(value) for value in fields[11:15]) / tick
    return {**used, "bench": time.process_time()}


def analyze_run_tables() -> None:
    """ANALYZE the run tables, as autovacuum keeps their statistics in production. This machine's PostgreSQL runs
    with autovacuum off (CI's settings), and a bench database never analyzed gets plans that find a run's open
    steps through the status index, dead entries and all (2.9 ms a statement at 30,000 of them) instead of the
    run's own index."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE executions_execution, executions_steprun")


def database_url(db: dict | None = None) -> str:
    """The URL of the database Django is using (or of `db`, a settings dict), for a child process."""
    if db is None:
        from django.db import connection

        db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def create_database_if_missing() -> None:
    """Create the PostgreSQL database Django is set to use, if it does not exist yet (a bench's own database)."""
    import psycopg
    from django.db import connection
    from psycopg import sql

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return
    with psycopg.connect(database_url({**db, "NAME": "postgres"}), autocommit=True) as maintenance:
        if not maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))


class Process:
    """A command in its own process group (so SIGKILL takes its children too), its output in `log`; started
    when `ready` (a line fragment of its log, or a callable) says so."""

    def __init__(self, command: list[str], log: Path, env: dict | None = None, *, ready=None, timeout: float = 60):
        self.log = log
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env if env is not None else dict(os.environ),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if ready is not None:
            self._wait_ready(ready, timeout)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_ready(self, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready() if callable(ready) else ready in self.log.read_text():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.log.name}: exited early:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"{self.log.name}: not ready after {timeout:.0f}s:\n{self.log.read_text()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no acks, no cleanup."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def stop(self, timeout: float = 30, *, group: bool = False) -> None:
        """A warm shutdown: SIGTERM (to the leader alone unless `group`, so it stops its own children after their
        current task; a SIGTERM to a Celery pool child is a WorkerLostError), then SIGKILL for what lingers."""
        if self.proc.poll() is None:
            try:
                (os.killpg if group else os.kill)(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        self.kill()  # the group's stragglers, if any


class Worker(Process):
    """One `celery worker` as Procfile.prod runs it (--without-mingle; --concurrency 2, with embedded Beat unless
    beat=False); `queues` is its -Q list (default: every queue), `name` its node name prefix (its step runs'
    `worker` starts with "<node>@")."""

    def __init__(
        self,
        log_dir: Path,
        env: dict,
        *,
        queues: str | None = None,
        beat: bool = True,
        name: str = "e2e",
        concurrency: int = 2,
        extra: tuple[str, ...] = (),
    ):
        self.node = f"{name}-{uuid.uuid4().hex[:6]}"
        options = ["-B", "-s", str(log_dir / "beat-schedule")] if beat else []
        options += ["-Q", queues] if queues else []
        command = [sys.executable, "-m", "celery", "-A", "faos", "worker", "--without-mingle", "--loglevel=INFO"]
        command += [f"--concurrency={concurrency}", "-n", f"{self.node}@%h", *options, *extra]
        super().__init__(command, log_dir / f"worker-{self.node}.log", env, ready="ready.")


def beat(log_dir: Path, env: dict) -> Process:
    """A standalone `celery beat` (Procfile.prod's beat line)."""
    command = [sys.executable, "-m", "celery", "-A", "faos", "beat", "--loglevel=INFO"]
    command += ["-s", str(log_dir / "beat-schedule")]
    return Process(command, log_dir / "beat.log", env, ready="beat: Starting")


def gunicorn(log_dir: Path, env: dict, port: int) -> Process:
    """Procfile.prod's web process (gunicorn with gunicorn.conf.py) on 127.0.0.1:`port`."""
    import httpx

    def answers() -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health/?check=database", timeout=2)
            return True
        except httpx.TransportError:
            return False

    env = {**env, "FAOS_WEB_BIND": f"127.0.0.1:{port}"}
    return Process(
        [str(Path(sys.executable).parent / "gunicorn"), "faos.wsgi"], log_dir / "web.log", env, ready=answers
    )


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
        from django.db import connection

        connection.close()  # a restarted database: the next call opens a new connection
        return None
