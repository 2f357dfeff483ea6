"""Chaos: runs of a 5-step workflow calling a local fake vendor while the worker is SIGKILLed again and again
(and, in the `services` phase, PostgreSQL and Redis are restarted); then every guarantee is checked.

Usage (see bench/README.md):
    .venv/bin/python bench/chaos.py [--runs 200] [--duration 60] [--phases kill,services] [--short]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/faos_chaos CELERY_BROKER_URL=redis://127.0.0.1:6379/15 \\
        .venv/bin/python bench/chaos.py --services shared

Each phase starts `--runs` runs of reserve → charge → notify (send_email) → ship → record, where the four
vendor steps POST to a fake HTTP server started here (it records every request with its Idempotency-Key), then
for `--duration` seconds starts a worker, lets it work a random `--work` seconds, SIGKILLs its process group
while a step is in flight, and starts the next one. The `services` phase also restarts PostgreSQL (a third of
the way in) and Redis (two thirds in): by default a cluster and a server of the run's own (bench/own_services.py),
so nobody else's connections drop; `--services shared` restarts the machine's own. A last worker drains the runs.
Exit status 1 when a check fails. tests/e2e/test_chaos_short.py runs the short version.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")

from bench.chaos_checks import (  # noqa: E402 - needs ROOT on sys.path
    VENDOR_STEPS,
    check,
    db_retry,
    drained,
    log_figures,
)
from bench.workers import wait_until  # noqa: E402 - needs ROOT on sys.path


def chaos_workflow(vendor_url: str, name: str = "Chaos"):
    """The 5-step workflow: four vendor calls and an e-mail, each carrying the run's id."""
    from tests.factories import active_workflow

    def call(key: str) -> dict:
        body = {"run": "{{workflow.execution_id}}", "step": key}
        inputs = {"method": "POST", "url": f"{vendor_url}/{key}", "json": body}
        return {
            "key": key,
            "name": key.title(),
            "timeout_seconds": 30,
            "config": {"action": "http_request", "input": inputs},
        }

    mail = {"to": "ops@example.com", "subject": "Order of run {{workflow.execution_id}}", "body": "shipped"}
    notify = {"key": "notify", "name": "Notify", "config": {"action": "send_email", "input": mail}}
    steps = [call("reserve"), call("charge"), notify, call("ship"), call("record")]
    workflow = active_workflow(steps, name=f"{name} {time.time_ns()}", timeout_seconds=3600)
    listen_to_successes(workflow)
    return workflow


def listen_to_successes(workflow) -> None:
    """An event trigger on execution.succeeded whose filter never holds: with a listener, each run's event is an
    outbox row delivered after the commit (the path the chaos checks), yet no other run starts."""
    from tests.factories import active_workflow
    from workflows.models import Trigger

    noted = {"key": "noted", "name": "Noted", "kind": "complete"}
    listener = active_workflow([noted], name=f"{workflow.name} listener")
    never = f"event.data.workflow_id == {workflow.pk} and event.data.workflow_id != {workflow.pk}"
    Trigger.objects.create(workflow=listener, kind="event", config={"type": "execution.succeeded", "filter": never})


def start_runs(workflow, runs: int) -> list[int]:
    from executions.services import execution_start

    return [execution_start(workflow=workflow, input={"order": i}).pk for i in range(runs)]


@dataclass
class Kill:
    at: float
    node: str
    in_flight: dict[int, int]  # step run id → its claims when the worker died
    backlog: int  # unfinished runs when it died: a recovered run is enqueued behind them
    back: dict[int, float] = field(default_factory=dict)  # step run id → seconds until it was claimed again


class Chaos:
    """The kill loop: start a worker, let it work, SIGKILL it mid-step, again; and watch the killed steps come back."""

    def __init__(self, start_worker, *, work: tuple[float, float] = (4, 9), seed: int | None = None):
        self.start_worker = start_worker
        self.work = work
        self.rng = random.Random(seed)
        self.kills: list[Kill] = []
        self.logs: list[Path] = []  # every worker's log
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def run(self, *, duration: float | None = None, kills: int | None = None) -> None:
        """Kill workers for `duration` seconds, or `kills` times."""
        self._watcher.start()
        end = time.monotonic() + (duration or 1e9)
        while time.monotonic() < end and (kills is None or len(self.kills) < kills):
            worker = self.start()
            time.sleep(self.rng.uniform(*self.work))  # the chaos itself: a random time into the work
            self._in_flight(worker.node, timeout=10)
            worker.kill()
            self._record(worker.node)

    def start(self):
        """A worker from start_worker(), tried again while a restarted service comes back."""
        for attempt in range(5):  # a worker may fail to boot while PostgreSQL or Redis restarts
            try:
                worker = self.start_worker()
                self.logs.append(worker.log)
                return worker
            except RuntimeError:
                if attempt == 4:
                    raise
                time.sleep(2)

    def _in_flight(self, node: str, timeout: float) -> None:
        """Wait (up to `timeout`) until this worker is running a step, so the kill interrupts one."""
        from executions.models import StepRun

        running = StepRun.objects.filter(status="running", worker__startswith=f"{node}@")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not db_retry(running.exists, False):
            time.sleep(0.05)

    def _record(self, node: str) -> None:
        from executions.models import Execution, StepRun

        at = time.monotonic()
        held = StepRun.objects.filter(status="running", worker__startswith=f"{node}@").values_list("id", "claims")
        backlog = db_retry(Execution.objects.filter(finished_at__isnull=True).count, -1)
        self.kills.append(Kill(at, node, dict(db_retry(lambda: list(held), [])), backlog))

    def _watch(self) -> None:
        """Note when each killed step is claimed again (its claims grow)."""
        from django.db import connection

        from executions.models import StepRun

        while not self._done.is_set():
            waiting = [(k, sid, claims) for k in self.kills for sid, claims in k.in_flight.items() if sid not in k.back]
            ids = {sid for _, sid, _ in waiting}
            now = time.monotonic()
            claims = dict(
                db_retry(lambda i=ids: list(StepRun.objects.filter(pk__in=i).values_list("id", "claims")), [])
            )
            for kill, sid, before in waiting:
                if claims.get(sid, before) > before:
                    kill.back[sid] = now - kill.at
            time.sleep(0.1)
        connection.close()

    def stop(self) -> None:
        self._done.set()
        if self._watcher.is_alive():
            self._watcher.join(5)


def restart_postgres() -> None:
    """The machine's own cluster (`--services shared`)."""
    version = sorted(os.listdir("/etc/postgresql"))[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True)
    wait_until(lambda: subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0, "PostgreSQL")


def restart_redis() -> None:
    """The machine's own Redis (`--services shared`), as .ci/run starts it (nothing saved: every queued message is
    lost)."""
    subprocess.run(["redis-cli", "shutdown", "nosave"], capture_output=True)
    for folder in ("/var/lib/redis", "/var/log/redis"):
        os.makedirs(folder, exist_ok=True)
    command = 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
    subprocess.run(f"{command} --dir /var/lib/redis --logfile /var/log/redis/ci.log", shell=True, check=True)
    wait_until(lambda: b"PONG" in subprocess.run(["redis-cli", "ping"], capture_output=True).stdout, "Redis")


def disrupt(schedule: list[tuple[float, str, object]], log: list[str]) -> threading.Thread:
    """Run each (seconds from now, name, action) in the background."""
    start = time.monotonic()

    def go():
        for offset, name, action in schedule:
            time.sleep(max(0.0, start + offset - time.monotonic()))
            began = time.monotonic()
            action()
            log.append(f"{name} at {began - start:.0f}s (back after {time.monotonic() - began:.1f}s)")

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


def summary(kills: list[Kill], lease: float, began: float) -> dict:
    back = sorted(seconds for kill in kills for seconds in kill.back.values())
    unclaimed = {sid: claims for kill in kills for sid, claims in kill.in_flight.items() if sid not in kill.back}
    committed = committed_as_killed(unclaimed)
    return {
        "kills": len(kills),
        "steps in flight at a kill": sum(len(kill.in_flight) for kill in kills),
        "kill → killed step claimed again (s)": f"p50 {back[len(back) // 2]:.1f}, max {back[-1]:.1f}" if back else "-",
        "each kill at (s) → its slowest re-claim (s)": ", ".join(
            f"{kill.at - began:.0f} → {max(kill.back.values(), default=0):.1f}" for kill in kills
        ),
        "unfinished runs at the kills (queue ahead)": ", ".join(str(kill.backlog) for kill in kills),
        "lease (FAOS_LEASE_GRACE_SECONDS)": lease,
        "killed steps ended by their dying commit": committed,
        "killed steps never claimed again": len(unclaimed) - committed,
    }


def committed_as_killed(unclaimed: dict[int, int]) -> int:
    """Killed steps that ended without another claim: the worker's COMMIT reached PostgreSQL as it died (the
    server runs it just after the kill, so the step read as running). Nobody else can end a step unclaimed."""
    from executions.models import StepRun

    ended = StepRun.objects.filter(pk__in=unclaimed, status=StepRun.Status.SUCCEEDED).values_list("id", "claims")
    return sum(1 for sid, claims in ended if claims == unclaimed[sid])


def chaos_phase(
    start_worker,
    vendor,
    mail_dir: Path,
    *,
    runs: int,
    work: tuple[float, float],
    lease: float,
    duration: float | None = None,
    kills: int | None = None,
    restarts: tuple = (),
    seed: int | None = None,
) -> tuple[list[str], dict]:
    """Start the runs, kill workers (and restart the services), drain with a last worker and check everything;
    `start_worker()` returns a started worker (with .node and .kill()) whose e-mails go to `mail_dir`; `restarts`
    are (name, restart) pairs, spread evenly over the chaos."""
    from bench.workers import wait_for

    vendor.requests.clear()
    ids = start_runs(chaos_workflow(vendor.url), runs)
    began = time.monotonic()
    chaos = Chaos(start_worker, work=work, seed=seed)
    restarted: list[str] = []
    if restarts:
        every = (duration or 60) / (len(restarts) + 1)
        disrupt([(every * n, name, restart) for n, (name, restart) in enumerate(restarts, 1)], restarted)
    last = None
    try:
        chaos.run(duration=duration, kills=kills)
        chaos_end = time.monotonic()
        last = chaos.start()
        wait_for(lambda: drained(ids), timeout=120, interval=0.2, message="the runs to drain")
        done = time.monotonic()
    finally:
        chaos.stop()
        if last is not None:
            last.stop()
    failures, figures = check(ids, list(vendor.requests), mail_dir)
    report = {
        "runs": runs,
        "chaos (s)": f"{chaos_end - began:.0f}",
        **{f"restart {n}": line for n, line in enumerate(restarted, 1)},
        **summary(chaos.kills, lease, began),
        **figures,
        **log_figures(chaos.logs),
        "drain after the chaos (s)": f"{done - chaos_end:.1f}",
        "first start → all drained (s)": f"{done - began:.1f}",
    }
    return failures, report


def phase(name: str, args, env: dict, vendor, log_dir: Path, restarts: tuple) -> list[str]:
    """One phase of the command line, printed; its failures."""
    from bench.workers import Worker

    mail_dir = log_dir / f"mail-{name}"
    worker_env = {**env, "EMAIL_URL": f"filemail:///{mail_dir}"}
    failures, report = chaos_phase(
        lambda: Worker(log_dir, worker_env, name=f"chaos-{name}"),
        vendor,
        mail_dir,
        runs=args.runs,
        work=tuple(args.work),
        lease=args.lease,
        duration=None if args.kills else args.duration,
        kills=args.kills,
        restarts=restarts if name == "services" else (),
        seed=args.seed,
    )
    print(f"\n== phase {name}")
    for label, value in report.items():
        print(f"  {label:42}: {value}")
    for failure in failures:
        print(f"  FAILED: {failure}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of chaos per phase")
    parser.add_argument("--kills", type=int, default=None, help="stop the chaos after this many kills instead")
    parser.add_argument("--phases", default="kill,services", help="kill (SIGKILLs), services (and restarts)")
    parser.add_argument("--work", type=float, nargs=2, default=(4.0, 9.0), help="seconds a worker works, min max")
    parser.add_argument("--vendor-delay", type=float, default=0.2, help="seconds each vendor call takes")
    parser.add_argument("--lease", type=float, default=5.0, help="FAOS_LEASE_GRACE_SECONDS of the workers")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--short", action="store_true", help="20 runs, 3 kills, no restarts (as the test)")
    parser.add_argument(
        "--services",
        choices=("own", "shared"),
        default="own",
        help="own: a PostgreSQL cluster and a Redis of this run's own, which it restarts (bench/own_services.py); "
        "shared: DATABASE_URL and CELERY_BROKER_URL, restarting the machine's PostgreSQL and Redis",
    )
    args = parser.parse_args()
    if args.short:
        args.runs, args.kills, args.phases, args.work, args.vendor_delay = 20, 3, "kill", (2.0, 4.0), 0.5
    phases = [p for p in args.phases.split(",") if p]
    if unknown := set(phases) - {"kill", "services"}:
        parser.error(f"--phases: unknown {sorted(unknown)} (kill, services)")
    if args.services == "shared":
        return run(args, phases, (("PostgreSQL restart", restart_postgres), ("Redis restart", restart_redis)))
    from bench.own_services import OwnServices

    with OwnServices() as own:  # before Django reads DATABASE_URL and CELERY_BROKER_URL
        print(f"own services: PostgreSQL on port {own.pg_port}, Redis on port {own.redis_port}")
        return run(args, phases, (("PostgreSQL restart", own.restart_postgres), ("Redis restart", own.restart_redis)))


def run(args, phases: list[str], restarts: tuple) -> int:
    """Every phase against the services Django is about to read from the environment; 1 when a check failed."""
    import django

    django.setup()
    logging.disable(logging.INFO)  # this process's own "run started" lines; the workers log to their files
    from django.conf import settings
    from django.core.management import call_command

    from bench.workers import database_url, purge_broker
    from tests.fakes import FakeServer

    call_command("migrate", verbosity=0)
    purge_broker()
    log_dir = ROOT / "var" / f"chaos-{time.strftime('%Y%m%d-%H%M%S')}"
    log_dir.mkdir(parents=True)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "FAOS_SWEEP_INTERVAL": "1",
        "FAOS_LEASE_GRACE_SECONDS": str(args.lease),
        "FAOS_HTTP_ALLOW_HOSTS": "127.0.0.1",
        "CONN_MAX_AGE": "0",
    }
    vendor = FakeServer()
    vendor.httpd.handle_error = lambda *_: None  # a worker killed mid-call leaves a broken pipe: expected here
    for step in VENDOR_STEPS:
        vendor.route("POST", f"/{step}", body={"ok": step}, delay=args.vendor_delay)
    failures = []
    try:
        for name in phases:
            failures += phase(name, args, env, vendor, log_dir, restarts)
    finally:
        vendor.close()
    print(f"\n{'FAILED' if failures else 'OK'}: {len(failures)} failed checks; logs in {log_dir}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
