"""Dashboard queries at 100,000 executions, against a plain COUNT(*) of the same table as the baseline.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/faos_bench .venv/bin/python bench/dashboard_100k.py
Creates the rows once (bulk inserts), then times each dashboard function 5 times and prints the best time
and its ratio to the baseline count. Compare ratios across machines, not milliseconds.
"""

import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")
TARGET = 100_000


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def populate() -> None:
    from django.utils import timezone

    from executions.models import Execution, StepRun
    from tests.factories import workflow_with_steps
    from workflows.services import workflow_activate

    missing = TARGET - Execution.objects.count()
    if missing <= 0:
        return
    flows = []
    for _ in range(20):
        workflow = workflow_with_steps(
            [{"key": "a", "name": "A", "config": {"action": "log", "inputs": {"message": "x"}}}]
        )
        flows.append((workflow, workflow_activate(workflow=workflow)))
    now, rng = timezone.now(), random.Random(7)
    statuses = ["succeeded"] * 90 + ["failed"] * 6 + ["timed_out", "cancelled", "running", "waiting"]
    for start in range(0, missing, 5000):
        rows = []
        for _ in range(min(5000, missing - start)):
            workflow, version = rng.choice(flows)
            status = rng.choice(statuses)
            done = status in ("succeeded", "failed", "timed_out", "cancelled")
            created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 29))
            rows.append(
                Execution(
                    workflow=workflow,
                    version=version,
                    status=status,
                    started_at=created,
                    finished_at=created + timedelta(seconds=2) if done else None,
                    duration_ms=rng.randint(50, 20_000) if done else None,
                    deadline_at=created + timedelta(minutes=5),
                )
            )
        created_rows = Execution.objects.bulk_create(rows)
        StepRun.objects.bulk_create(
            StepRun(execution=e, step_key="a", step_kind="action", status="failed", error="boom")
            for e in created_rows
            if e.status == "failed"
        )
    Execution.objects.filter(created_at__gte=now - timedelta(minutes=5)).update(created_at=now - timedelta(days=3))


def populate_agent_steps() -> None:
    """An agent step with model usage on every third execution, for model_usage (added once)."""
    from decimal import Decimal

    from executions.models import Execution, StepRun

    if StepRun.objects.filter(step_kind="agent").exists():
        return
    ids = Execution.objects.order_by("id").values_list("id", flat=True)[::3]
    usage = {"tokens_in": 420, "tokens_out": 80, "cost_usd": Decimal("0.000300")}
    rows = [StepRun(execution_id=i, step_key="think", step_kind="agent", status="succeeded", **usage) for i in ids]
    StepRun.objects.bulk_create(rows, batch_size=5000)


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    populate()
    populate_agent_steps()
    from executions import dashboard
    from executions.models import Execution

    baseline = best(lambda: Execution.objects.count())
    print(f"executions: {Execution.objects.count():,}   baseline COUNT(*): {baseline * 1000:.1f} ms")
    for name in ("workflow_metrics", "overall_metrics", "runs_per_day", "failing_steps", "model_usage"):
        seconds = best(lambda name=name: getattr(dashboard, name)())
        print(f"{name:18s} {seconds * 1000:8.1f} ms   {seconds / baseline:6.1f}x the count")


if __name__ == "__main__":
    main()
