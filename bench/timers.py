"""Timer precision at scale: many parked waits, some of them due over a short window; how late does each wake?

Usage (PostgreSQL + Redis; the database is created if missing, migrated, and its runs deleted first):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/faos_bench_timers CELERY_BROKER_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/timers.py --parked 10000 --due 1000 --window 20

It starts one real worker (concurrency 2) with its embedded Beat (the sweep every FAOS_SWEEP_INTERVAL, default 5 s),
then writes `--parked` runs parked on a wait step, as the runtime leaves them: `--due` of them due at times spread
evenly over `--window` seconds starting 10 s later, the others due in a day. It waits until every due wait has
woken and prints the lateness (the wait's wake-up minus its due time) p50/p95/max and the worker's memory (RSS of
the worker and its children) before the runs were parked, at its peak and at the end. Not part of the test suite.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")


def rss_mb(pid: int) -> float:
    """Resident memory of the process group led by pid (the worker, its pool processes and its Beat)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ProcessLookupError):
            continue
    return total / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parked", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--window", type=float, default=20.0)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command

    from bench.workers import create_database_if_missing

    create_database_if_missing()
    call_command("migrate", verbosity=0)
    from executions.models import Execution

    Execution.objects.all().delete()
    workflow = make_workflow()
    from bench.workers import Worker, purge_broker

    purge_broker()

    log_dir = ROOT / "var" / "bench-timers"
    log_dir.mkdir(parents=True, exist_ok=True)
    worker = Worker(log_dir, dict(os.environ), name="timers")  # with its Beat; waits until it is ready
    try:
        before = rss_mb(worker.pid)
        due_ids, first_due = park(workflow, args.parked, args.due, args.window)
        peak, late = wait_for_wakes(worker.pid, due_ids, deadline=first_due + args.window + 300)
        after = rss_mb(worker.pid)
    finally:
        worker.stop()  # warm: SIGTERM to the worker alone, then wait
    print(f"parked waits      : {args.parked} ({args.due} due over {args.window:.0f} s, the rest in a day)")
    print(f"woken             : {len(late)} of {args.due}")
    if late:
        print(
            f"lateness (s)      : p50 {statistics.median(late):.3f}  p95 {percentile(late, 0.95):.3f}  "
            f"max {max(late):.3f}"
        )
    print(f"worker RSS (MB)   : before {before:.0f}  peak {peak:.0f}  after {after:.0f}")


def make_workflow():
    from tests.factories import active_workflow, log_step

    return active_workflow(
        [
            {"key": "pause", "name": "Pause", "kind": "wait", "config": {"until": "{{trigger.at}}"}},
            log_step("after"),
        ]
    )


def park(workflow, parked: int, due: int, window: float):
    """Runs parked on their wait, written in bulk as the runtime leaves them (pending, with wake_at)."""
    from django.utils import timezone

    from executions.models import Execution, StepRun

    now = timezone.now()
    first_due = now + timedelta(seconds=10)
    times = [first_due + timedelta(seconds=window * i / max(due - 1, 1)) for i in range(due)]
    times += [now + timedelta(days=1)] * (parked - due)
    runs = Execution.objects.bulk_create(
        [
            Execution(
                workflow=workflow,
                version=workflow.active_version,
                input={"at": at.isoformat()},
                status=Execution.Status.WAITING,
                started_at=now,
                deadline_at=now + timedelta(days=2),
            )
            for at in times
        ],
        batch_size=2000,
    )
    StepRun.objects.bulk_create(
        [
            StepRun(
                execution=run,
                step_key="pause",
                step_name="Pause",
                step_kind="wait",
                input={"until": at.isoformat()},
                output={"until": at.isoformat()},
                wake_at=at,
                started_at=now,
                claims=1,
            )
            for run, at in zip(runs, times, strict=True)
        ],
        batch_size=2000,
    )
    return [run.pk for run in runs[:due]], first_due.timestamp()


def wait_for_wakes(pid: int, due_ids: list[int], deadline: float):
    from executions.models import StepRun

    peak = 0.0
    rows = StepRun.objects.filter(execution_id__in=due_ids, step_key="pause")
    while time.time() < deadline:
        peak = max(peak, rss_mb(pid))
        if not rows.filter(finished_at__isnull=True).exists():
            break
        time.sleep(0.5)
    late = [
        (f - w).total_seconds() for f, w in rows.filter(finished_at__isnull=False).values_list("finished_at", "wake_at")
    ]
    return peak, late


if __name__ == "__main__":
    main()
