"""Prune 1,000,000 step runs while small workflows keep running: does retention block the runtime?

Usage (PostgreSQL only; use a database of its own, the script fills it):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/faos_bench_prune .venv/bin/python bench/prune_1m.py \
        [--step-runs 1000000] [--per-run 10] [--batch-size 500] [--baseline 15]

1. Creates old finished runs with `--per-run` step runs each (INSERT … SELECT generate_series, seconds).
2. Starts a workload in another process (its own interpreter, so it never waits for this one's GIL): it starts
   3-step workflows back to back and runs them with the runtime's own start / claim / complete transactions,
   timing each transaction.
3. Measures `--baseline` seconds of that workload, then runs executions_prune with the workload still going.
4. Prints the prune's throughput (rows/s), the workload's p50/p95/max transaction latency during the prune
   against the baseline (ratios), the prune's longest batch transaction and the longest lock wait anyone had
   (pg_stat_activity sampled every 20 ms).
Not part of the test suite; tests/executions/test_retention.py checks the same batching at 5,000 rows.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")

# Columns as SQL over g (run number), s (step number), t.at (run time) and e (the run); any other NOT NULL
# column (one added later) gets its model default.
EXECUTION_COLUMNS = {
    "workflow_id": "%(workflow)s",
    "version_id": "%(version)s",
    "status": "CASE WHEN g %% 10 = 0 THEN 'failed' ELSE 'succeeded' END",
    "input": """'{"order": 1}'""",
    "output": """'{"ok": true}'""",
    "created_at": "t.at",
    "started_at": "t.at",
    "finished_at": "t.at + interval '2 seconds'",
    "deadline_at": "t.at + interval '5 minutes'",
    "duration_ms": "2000",
}
EXECUTION_FROM = (
    "generate_series(1, %(runs)s) g, LATERAL (SELECT now() - interval '120 days' + g * interval '1 second' AS at) t"
)
STEP_RUN_COLUMNS = {
    "execution_id": "e.id",
    "step_key": "'s' || s",
    "step_name": "'Step ' || s",
    "step_kind": "'action'",
    "status": "'succeeded'",
    "input": """'{"message": "hello"}'""",
    "output": """'{"ok": true, "id": "ch_3Mtw"}'""",
    "created_at": "e.created_at",
    "enqueued_at": "e.created_at",
    "started_at": "e.created_at",
    "finished_at": "e.finished_at",
    "duration_ms": "200",
    "claims": "1",
}
STEP_RUN_FROM = "executions_execution e, generate_series(1, %(per_run)s) s WHERE e.workflow_id = %(workflow)s"
LOCK_WAITS = """
SELECT pid, query_start, extract(epoch FROM clock_timestamp() - query_start), left(query, 90)
FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
"""


def setup_django():
    import django

    django.setup()


def flow(name: str):
    from tests.factories import log_step, workflow_with_steps
    from workflows.models import Workflow
    from workflows.services import workflow_activate

    workflow = Workflow.objects.filter(name=name).first()
    if workflow is None:
        workflow = workflow_with_steps([log_step("a"), log_step("b"), log_step("c")], name=name)
        workflow_activate(workflow=workflow)
        workflow.refresh_from_db()
    return workflow


def insert_sql(model, columns: dict, source: str) -> str:
    """INSERT … SELECT with the given column expressions, and model defaults for the other NOT NULL columns."""
    names, values = list(columns), list(columns.values())
    for field in model._meta.concrete_fields:
        if not (field.primary_key or field.null or field.column in columns):
            names.append(field.column)
            values.append(literal(field.get_default()))
    return f"INSERT INTO {model._meta.db_table} ({', '.join(names)}) SELECT {', '.join(values)} FROM {source}"


def literal(value) -> str:
    """A model default as SQL: booleans, numbers, strings, and JSON for lists and dicts (%% for the driver)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    text = json.dumps(value) if isinstance(value, dict | list) else str(value)
    return "'" + text.replace("'", "''").replace("%", "%%") + "'"


def populate(step_runs: int, per_run: int) -> None:
    from django.db import connection, transaction

    from executions.models import Execution, StepRun

    workflow = flow("Bench old runs")
    params = {"workflow": workflow.pk, "version": workflow.active_version_id, "runs": step_runs // per_run}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM executions_execution WHERE workflow_id = %s", [workflow.pk])
        if cursor.fetchone()[0]:
            return
        started = time.monotonic()
        cursor.execute(insert_sql(Execution, EXECUTION_COLUMNS, EXECUTION_FROM), params)
        cursor.execute(insert_sql(StepRun, STEP_RUN_COLUMNS, STEP_RUN_FROM), {**params, "per_run": per_run})
        created = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE executions_execution; ANALYZE executions_steprun")
        print(f"created {params['runs']:,} runs and {created:,} step runs in {time.monotonic() - started:.1f} s")


def workload(stop, results) -> None:
    """Another process: start and run 3-step workflows until told to stop; time each transaction."""
    setup_django()
    import logging

    from executions import runtime, services, tasks
    from executions.runtime import claim, record

    logging.disable(logging.INFO)  # a line per step would cost more than the steps

    tasks.run_execution.apply_async = lambda *args, **kwargs: None  # this loop runs them itself, no broker
    tasks.run_execution.delay = lambda *args, **kwargs: None
    samples = []

    def timed(kind, fn):
        def wrapper(*args, **kwargs):
            started = time.time()
            try:
                return fn(*args, **kwargs)
            finally:
                samples.append((started, kind, time.time() - started))

        return wrapper

    claim.steprun_claim = timed("claim", claim.steprun_claim)  # where the loop looks them up
    record.steprun_complete = timed("complete", record.steprun_complete)
    start = timed("start", services.execution_start)
    workflow = flow("Bench live runs")
    while not stop.is_set():
        execution = start(workflow=workflow, input={"n": 1})
        runtime.execution_run(execution_id=execution.pk)
        time.sleep(0.005)
    results.put(samples)


def watch_locks(stop, waits: dict) -> None:
    """Longest time any statement of this database has waited for a lock, sampled every 20 ms."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
        autocommit=True,
    ) as conn:
        while not stop.is_set():
            for pid, query_start, seconds, query in conn.execute(LOCK_WAITS).fetchall():
                key = (pid, query_start)
                waits[key] = max(waits.get(key, (0, ""))[0], float(seconds)), query
            time.sleep(0.02)


def batch_timer(spans: list):
    """A query wrapper noting when each batch's locking SELECT starts: a batch lasts until the next one."""

    def wrapper(execute, sql, params, many, context):
        if "FOR UPDATE" in sql and "executions_execution" in sql:
            spans.append(time.monotonic())
        return execute(sql, params, many, context)

    return wrapper


def summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)] if ordered else 0.0
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered) if ordered else 0.0,
        "p95": p95,
        "max": ordered[-1] if ordered else 0.0,
    }


def report(samples, baseline: tuple, during: tuple) -> None:
    print(f"{'workload transactions':24s} {'n':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    rows = {}
    for name, (start, end) in (("baseline", baseline), ("during prune", during)):
        rows[name] = summary([s for at, _, s in samples if start <= at < end])
        r = rows[name]
        print(f"{name:24s} {r['n']:6d} {r['p50'] * 1000:8.1f} {r['p95'] * 1000:8.1f} {r['max'] * 1000:8.1f}")
    for kind in ("start", "claim", "complete"):
        b = summary([s for at, k, s in samples if k == kind and baseline[0] <= at < baseline[1]])
        d = summary([s for at, k, s in samples if k == kind and during[0] <= at < during[1]])
        print(
            f"  {kind:22s} p95 {b['p95'] * 1000:6.1f} → {d['p95'] * 1000:6.1f} ms, "
            f"max {b['max'] * 1000:6.1f} → {d['max'] * 1000:6.1f} ms"
        )
    b, d = rows["baseline"], rows["during prune"]
    print(
        f"ratio during/baseline: p50 {d['p50'] / b['p50']:.2f}x, p95 {d['p95'] / b['p95']:.2f}x, "
        f"max {d['max'] / b['max']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--step-runs", type=int, default=1_000_000)
    parser.add_argument("--per-run", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--baseline", type=float, default=15.0)
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from executions.retention import executions_prune

    if connection.vendor != "postgresql":
        sys.exit("PostgreSQL only: set DATABASE_URL to a bench database")
    call_command("migrate", verbosity=0)
    populate(args.step_runs, args.per_run)
    connection.close()

    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    worker = context.Process(target=workload, args=(stop, results))
    worker.start()
    waits: dict = {}
    lock_stop = threading.Event()
    watcher = threading.Thread(target=watch_locks, args=(lock_stop, waits), daemon=True)
    watcher.start()
    time.sleep(3)  # the workload warms up (imports, first connections) outside the baseline
    baseline = (time.time(), time.time() + args.baseline)
    time.sleep(args.baseline)

    spans: list[float] = []
    started, wall = time.monotonic(), time.time()
    with connection.execute_wrapper(batch_timer(spans)):
        pruned = executions_prune(older_than=timedelta(days=90), batch_size=args.batch_size)
    seconds = time.monotonic() - started
    spans.append(time.monotonic())
    during = (wall, time.time())
    stop.set()
    samples = results.get()
    worker.join()
    lock_stop.set()
    watcher.join()

    rows = pruned["executions"] + pruned["step_runs"]
    print(
        f"pruned {pruned['executions']:,} runs + {pruned['step_runs']:,} step runs = {rows:,} rows "
        f"in {seconds:.1f} s, {pruned['batches']} batches of {args.batch_size} runs"
    )
    print(f"throughput: {rows / seconds:,.0f} rows/s ({pruned['step_runs'] / seconds:,.0f} step runs/s)")
    batches = summary([b - a for a, b in zip(spans, spans[1:], strict=False)][:-1])  # the last span is the empty select
    print(
        f"prune batch transaction: p50 {batches['p50'] * 1000:.0f} ms, p95 {batches['p95'] * 1000:.0f} ms, "
        f"max {batches['max'] * 1000:.0f} ms"
    )
    report(samples, baseline, during)
    longest = max(waits.values(), default=(0.0, "none seen"))
    print(f"longest lock wait seen: {longest[0] * 1000:.0f} ms ({longest[1]!r}); {len(waits)} waits sampled")


if __name__ == "__main__":
    main()
