"""In-process profiles of the two hot paths, without a broker round trip: a webhook → 202, and a run on a worker.

Usage (PostgreSQL; the database is created if missing, and migrated; see bench/README.md):
    .venv/bin/python bench/profile_hot_paths.py webhook [--n 300] [--profile] [--top 45] [--sort tottime] [--logs]
    .venv/bin/python bench/profile_hot_paths.py run [--n 100] [--steps 10] [--profile] [--top 45] [--sort tottime]

webhook: N signed webhooks (1-step runs) through Django's test client; wall and CPU ms per webhook and the SQL of one.
run: N runs of a `--steps`-step `set` workflow, each through `runtime.execution_run` as a worker's task would run it
(its first step's message is not sent); wall and CPU ms per run and the statements of one run.
`--profile` adds a cProfile of N more, by cumulative time (`--sort tottime`: own time); `--logs` keeps the INFO
lines a worker writes. Compare CPU ms before and after a change on one machine.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import sys
import time
import uuid
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")
for _name, _value in {"DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "FAOS_STATIC_MANIFEST": "false"}.items():
    os.environ.setdefault(_name, _value)


def webhook_sender(hook):
    """A function that posts one signed webhook and checks the 202."""
    from django.test import Client

    from bench.engine_vs_chain import SECRET
    from integrations.webhooks import sign

    client, url = Client(HTTP_HOST="127.0.0.1"), f"/api/hooks/{hook.token}/"

    def send(_=None) -> None:
        body = json.dumps({"id": uuid.uuid4().hex}).encode()
        headers = {k: v for k, v in sign("hmac_sha256", body=body, secret=SECRET).items() if k != "Content-Type"}
        response = client.generic("POST", url, body, content_type="application/json", headers=headers)
        assert response.status_code == 202, response.content

    return send


def run_runner(made):
    """(make(n) → run ids started without a message, run(id) → the worker's task body for that run)."""
    from executions import runtime
    from executions.runtime import outbox, routing
    from executions.services import execution_start

    def make(n: int) -> list[int]:
        with mock.patch("celery.app.task.Task.apply_async"):
            return [execution_start(workflow=made, input={"i": i}, trigger_kind="manual").pk for i in range(n)]

    def run(execution_id: int) -> None:
        with outbox.delivered_here():
            runtime.execution_run(execution_id=execution_id, worker="profile@here", lane=routing.worker_lane())

    return make, run


def _backend() -> tuple[int | None, float]:
    """The PostgreSQL server process of this connection, and its CPU seconds so far (None off PostgreSQL)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None, 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def measure(label: str, one, items: list, unit: str) -> None:
    (pid, server), started, cpu = _backend(), time.perf_counter(), time.process_time()
    for item in items:
        one(item)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    after, server_after = _backend()
    line = f"{label}: wall {1000 * wall / len(items):.2f} ms, CPU {1000 * cpu / len(items):.2f} ms per {unit}"
    if pid is not None and after == pid:  # (the same server process throughout: its CPU is this loop's)
        line += f"; PostgreSQL CPU {1000 * (server_after - server) / len(items):.2f} ms"
    print(line)


def statements(one, item) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        one(item)
    print(f"{len(captured)} statements:")
    for query in captured.captured_queries:
        print("  ", query["sql"][:150])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", choices=("webhook", "run"))
    parser.add_argument("--n", type=int, default=None, help="webhooks or runs measured (300 / 100)")
    parser.add_argument("--steps", type=int, default=10, help="steps of the run path's workflow")
    parser.add_argument("--profile", action="store_true", help="then a cProfile of as many more")
    parser.add_argument("--top", type=int, default=45, help="rows of the profile")
    parser.add_argument("--sort", default="cumulative", help="the profile's order: cumulative or tottime")
    parser.add_argument("--logs", action="store_true", help="log at INFO as a worker does (to stderr), not silently")
    args = parser.parse_args()
    import django

    django.setup()
    if not args.logs:
        logging.disable(logging.INFO)
    from django.core.management import call_command

    from bench.engine_vs_chain import engine_workflow, hook_trigger
    from bench.workers import analyze_run_tables, create_database_if_missing

    create_database_if_missing()
    call_command("migrate", verbosity=0)
    analyze_run_tables()
    if args.path == "webhook":
        n, one, unit = args.n or 300, webhook_sender(hook_trigger(1)), "webhook"
        batch = lambda k: [None] * k  # noqa: E731 - each item is one delivery
    else:
        make, one = run_runner(engine_workflow(args.steps, vendor_url=None))
        n, unit, batch = args.n or 100, f"run of {args.steps} steps", make  # items: started runs
    for item in batch(10):
        one(item)  # warm-up: imports, connections, caches
    measure(args.path, one, batch(n), unit)
    statements(one, batch(1)[0])
    if args.profile:
        items, profile = batch(n), cProfile.Profile()
        profile.runcall(lambda: [one(item) for item in items])
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
