"""Throughput of the durable engine against a raw Celery chain of no-op tasks, side by side in one run.

Usage (PostgreSQL + Redis, as in CI):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/faos_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/engine_vs_chain.py --steps 50 --runs 5

It migrates the database, starts one real worker (concurrency 2), then times (a) a Celery chain of N no-op
tasks and (b) an N-step workflow of `set` steps started with execution_start, and prints steps per second
for both and their ratio. Timings are noisy on a 2-core machine: compare the ratio, not the absolute numbers.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "faos",
            "worker",
            "--concurrency=2",
            "-I",
            "bench.noop_tasks",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        time.sleep(6)
        chain_rate = bench_chain(args.steps, args.runs)
        engine_rate = bench_engine(args.steps, args.runs)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)
    print(f"raw Celery chain : {chain_rate:8.1f} steps/s")
    print(f"FAOS engine      : {engine_rate:8.1f} steps/s")
    print(f"engine / chain   : {engine_rate / chain_rate:8.2f}x")


def bench_chain(steps: int, runs: int) -> float:
    import uuid

    import redis
    from celery import chain
    from django.conf import settings

    from bench.noop_tasks import noop

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    total = 0.0
    for _ in range(runs):
        key = f"bench:done:{uuid.uuid4().hex}"
        started = time.perf_counter()
        chain(*[noop.s() for _ in range(steps - 1)], noop.s(done_key=key)).apply_async()
        while not client.exists(key):
            time.sleep(0.002)
        total += time.perf_counter() - started
    return steps * runs / total


def bench_engine(steps: int, runs: int) -> float:
    from executions.models import Execution
    from executions.services import execution_start
    from tests.factories import workflow_with_steps
    from workflows.services import workflow_activate

    workflow = workflow_with_steps(
        [{"key": f"s{i}", "name": f"Set {i}", "config": {"action": "set", "inputs": {"n": i}}} for i in range(steps)]
    )
    workflow_activate(workflow=workflow)
    total = 0.0
    for _ in range(runs):
        started = time.perf_counter()
        execution = execution_start(workflow=workflow, input={})
        while Execution.objects.filter(pk=execution.pk, finished_at__isnull=True).exists():
            time.sleep(0.005)
        total += time.perf_counter() - started
    return steps * runs / total


if __name__ == "__main__":
    main()
