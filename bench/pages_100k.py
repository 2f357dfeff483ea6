"""Admin pages, the dashboard and the API lists at 100,000 runs and a 10,000-item loop: time, size, queries.

Usage (PostgreSQL only; use a database of its own, the script fills it once and keeps it):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/faos_pagesbench SECRET_KEY=… FAOS_ENCRYPTION_KEYS=… \
        .venv/bin/python bench/pages_100k.py [--runs 100000] [--loop-items 10000] [--repeat 5]

Creates (INSERT … SELECT generate_series, seconds): four workflows (one with 20 steps) sharing `--runs` runs with
their step runs, a workflow of 100 steps, 2,000 approvals, 2,000 tasks, 20 connections, and one run of a loop
over `--loop-items` items (a step run per item, the loop step's input and output holding every item as the
runtime writes them). Then requests every admin list and change page (the workflow page with 20 and 100
folded steps, and one step's form as it opens), the dashboard, the index, the API lists, a run's detail and
pages of its step runs as a logged-in superuser with the test client, `--repeat` times each, and prints the
median time, the page size, the number of queries and the Python function calls of one request (exact, where the
times vary with the machine's load). Not part of the test suite;
tests/executions/test_large_pages.py, tests/workflows/test_folded_steps.py, tests/workflows/test_query_budgets.py
and tests/api/test_execution_steps_api.py check the same bounds.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")  # the test client speaks plain HTTP
os.environ.setdefault("FAOS_STATIC_MANIFEST", "false")  # no collectstatic for a bench

STEPS = 20
FLOWS = ("Bench 20 steps", "Bench A", "Bench B", "Bench C")
RUN_COLUMNS = {
    "workflow_id": "%(workflow)s",
    "version_id": "%(version)s",
    "status": "CASE WHEN g %% 20 = 0 THEN 'failed' WHEN g %% 97 = 0 THEN 'running' ELSE 'succeeded' END",
    "input": """'{"order": 1, "email": "ada@example.com"}'""",
    "output": """'{"ok": true}'""",
    "created_at": "t.at",
    "started_at": "t.at",
    "finished_at": "CASE WHEN g %% 97 = 0 AND g %% 20 <> 0 THEN NULL ELSE t.at + interval '2 seconds' END",
    "deadline_at": "t.at + interval '5 minutes'",
    "duration_ms": "CASE WHEN g %% 97 = 0 AND g %% 20 <> 0 THEN NULL ELSE 2000 END",
}
RUN_FROM = (
    "generate_series(1, %(runs)s) g, LATERAL (SELECT now() - interval '40 days' + g * %(gap)s * interval '1 second'"
    " AS at) t"
)
STEP_COLUMNS = {
    "execution_id": "e.id",
    "step_key": "'s' || s",
    "step_name": "'Step ' || s",
    "step_kind": "'action'",
    "status": "CASE WHEN e.status = 'failed' AND s = %(steps)s THEN 'failed' ELSE 'succeeded' END",
    "input": """'{"message": "hello"}'""",
    "output": """'{"ok": true, "id": "ch_3Mtw"}'""",
    "created_at": "e.created_at",
    "started_at": "e.created_at",
    "finished_at": "e.created_at + interval '1 second'",
    "duration_ms": "200",
    "claims": "1",
}
STEP_FROM = "executions_execution e, generate_series(1, %(steps)s) s WHERE e.workflow_id = %(workflow)s"
ITEM_COLUMNS = {
    "execution_id": "%(execution)s",
    "step_key": "'hi'",
    "step_name": "'Hi'",
    "step_kind": "'action'",
    "scope": "'each[' || (g - 1) || ']'",
    "status": "'succeeded'",
    "input": """jsonb_build_object('message', 'hi ' || (g - 1))""",
    "output": """jsonb_build_object('data', null, 'level', 'info', 'message', 'hi ' || (g - 1))""",
    "created_at": "now() - interval '1 hour' + g * interval '10 milliseconds'",
    "started_at": "now() - interval '1 hour' + g * interval '10 milliseconds'",
    "finished_at": "now() - interval '1 hour' + g * interval '10 milliseconds' + interval '5 milliseconds'",
    "duration_ms": "5",
    "claims": "1",
}


def setup_django():
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host is allowed; templates are recorded


def flow(name: str, steps: int):
    from tests.factories import active_workflow, log_step
    from workflows.models import Workflow

    workflow = Workflow.objects.filter(name=name).first()
    return workflow or active_workflow([log_step(f"s{i}") for i in range(1, steps + 1)], name=name)


def populate_runs(runs: int) -> None:
    from django.db import connection, transaction

    from bench.prune_1m import insert_sql
    from executions.models import Execution, StepRun

    if Execution.objects.exists():
        return
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        for index, name in enumerate(FLOWS):
            steps = STEPS if index == 0 else 1
            workflow = flow(name, steps)
            share = runs // len(FLOWS)
            params = {"workflow": workflow.pk, "version": workflow.active_version_id, "runs": share}
            cursor.execute(insert_sql(Execution, RUN_COLUMNS, RUN_FROM), {**params, "gap": len(FLOWS) * 30})
            cursor.execute(insert_sql(StepRun, STEP_COLUMNS, STEP_FROM), {**params, "steps": steps})
    print(f"created {runs:,} runs and their step runs in {time.monotonic() - started:.1f} s")


def populate_loop(items: int) -> None:
    """One run whose loop went over `items` items: the loop step, a step run per item, a last step."""
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.prune_1m import insert_sql
    from executions.models import Execution, StepRun
    from tests.factories import active_workflow, log_step

    if Execution.objects.filter(workflow__name="Bench loop").exists():
        return
    each = {"key": "each", "name": "Each", "kind": "loop", "config": {"items": "{{trigger.items}}", "steps": ["hi"]}}
    workflow = active_workflow([each, log_step("hi", "hi {{item}}"), log_step("done")], name="Bench loop")
    values, now = list(range(items)), timezone.now()
    results = [{"data": None, "level": "info", "message": f"hi {i}"} for i in values]
    output = {"cap": 1, "mode": "sequential", "count": items, "delay": 0.0, "items": values, "results": results}
    with transaction.atomic():
        run = Execution.objects.create(
            workflow=workflow,
            version=workflow.active_version,
            status="succeeded",
            input={"items": values},
            output={"message": "hi"},
            started_at=now,
            finished_at=now,
            duration_ms=100_000,
        )
        StepRun.objects.create(
            execution=run,
            step_key="each",
            step_kind="loop",
            status="succeeded",
            input={"items": values},
            output={**output, "started": items, "finished": values},
            started_at=now,
            finished_at=now,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                insert_sql(StepRun, ITEM_COLUMNS, "generate_series(1, %(items)s) g"),
                {
                    "execution": run.pk,
                    "items": items,
                },
            )
        StepRun.objects.create(execution=run, step_key="done", step_kind="action", status="succeeded")
    print(f"created the loop run #{run.pk} with {items:,} items")


def populate_people() -> None:
    """2,000 approvals (on the first step of runs of Bench A), 2,000 tasks, 20 connections, a superuser."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from bench.prune_1m import insert_sql
    from executions.models import Approval, Task
    from integrations.models import Connection

    user_model = get_user_model()
    if not user_model.objects.filter(username="bench").exists():
        user_model.objects.create_superuser("bench", "bench@example.com", "bench-pass")
    if Approval.objects.exists():
        return
    approvals = {
        "execution_id": "r.execution_id",
        "step_run_id": "r.id",
        "title": "'Refund ' || r.id",
        "status": "CASE WHEN r.id %% 4 = 0 THEN 'pending' ELSE 'approved' END",
        "decided_at": "CASE WHEN r.id %% 4 = 0 THEN NULL ELSE r.created_at END",
        "created_at": "r.created_at",
        "amount": "120.00",
    }
    source = (
        "(SELECT sr.* FROM executions_steprun sr JOIN executions_execution e ON e.id = sr.execution_id"
        " JOIN workflows_workflow w ON w.id = e.workflow_id WHERE w.name = 'Bench A' ORDER BY sr.id LIMIT 2000) r"
    )
    tasks = {"title": "'Check ' || g", "execution_id": "NULL", "created_at": "now()", "status": "'open'"}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(insert_sql(Approval, approvals, source), {})
        cursor.execute(insert_sql(Task, tasks, "generate_series(1, 2000) g"), {})
        for i in range(20):
            Connection.objects.create(service="slack", name=f"team-{i}", credentials={"token": "x"})
        cursor.execute("ANALYZE")


def pages(loop_run: int, run: int) -> list[tuple[str, str]]:
    """(label, url) of every page measured."""
    from django.urls import reverse

    from executions.models import Approval, Task
    from integrations.models import Connection
    from workflows.models import Workflow

    big = Workflow.objects.get(name=FLOWS[0]).pk
    hundred = flow("Bench 100 steps", 100).pk
    first_step = Workflow.objects.get(pk=big).steps.order_by("position", "id").first().pk
    step_form = reverse("admin:workflows_workflow_stepforms", args=[big]) + f"?rows=0.{first_step}"
    runs = reverse("admin:executions_execution_changelist")
    admin = [
        ("admin index", reverse("admin:index")),
        ("dashboard", reverse("faos-dashboard")),
        ("workflow list", reverse("admin:workflows_workflow_changelist")),
        ("workflow change (20 steps)", reverse("admin:workflows_workflow_change", args=[big])),
        ("workflow change (100 steps)", reverse("admin:workflows_workflow_change", args=[hundred])),
        ("workflow step form (opened)", step_form),
        ("version list", reverse("admin:workflows_workflowversion_changelist")),
        ("execution list", runs),
        ("execution list, 1 workflow", f"{runs}?workflow__id__exact={big}"),
        ("execution list, failed", f"{runs}?status__exact=failed"),
        ("execution change (20 steps)", reverse("admin:executions_execution_change", args=[run])),
        ("execution change (loop)", reverse("admin:executions_execution_change", args=[loop_run])),
        ("approval list", reverse("admin:executions_approval_changelist")),
        ("approval change", reverse("admin:executions_approval_change", args=[Approval.objects.first().pk])),
        ("task list", reverse("admin:executions_task_changelist")),
        ("task change", reverse("admin:executions_task_change", args=[Task.objects.first().pk])),
        ("connection list", reverse("admin:integrations_connection_changelist")),
        ("connection change", reverse("admin:integrations_connection_change", args=[Connection.objects.first().pk])),
    ]
    api = [(f"API {name}", f"/api/{name}/") for name in ("workflows", "executions", "approvals", "connections")]
    steps = f"/api/executions/{loop_run}/steps/"
    api += [("API triggers", "/api/triggers/"), ("API execution (loop)", f"/api/executions/{loop_run}/")]
    api += [("API execution steps (loop)", steps), ("API execution steps, page 50", f"{steps}?page=50")]
    api += [("API execution steps, 1 item", f"{steps}?scope=each[4321]")]
    return admin + api


def measure(client, url: str, repeat: int) -> tuple[float, float, int, int, int]:
    """(median ms, median CPU ms of this process, bytes, queries, Python calls) of GET url.

    The CPU time leaves out the database's own work and most of the waiting on a busy machine: compare it when the
    wall-clock times are noisy (other processes running). The Python function calls of one more request (cProfile)
    do not depend on the machine at all: compare them to see a change's effect exactly."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches (content types, templates)
    times, cpu = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            body = response.content  # a streaming response would be read here
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200, (url, response.status_code)
    queried = len(queries)  # before the next request, which empties the connection's query log
    profile = cProfile.Profile()
    profile.runcall(client.get, url)
    calls = pstats.Stats(profile).total_calls
    return statistics.median(times) * 1000, statistics.median(cpu) * 1000, len(body), queried, calls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--loop-items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    setup_django()
    import logging

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from executions.models import Execution

    if connection.vendor != "postgresql":
        sys.exit("PostgreSQL only: set DATABASE_URL to a bench database")
    logging.disable(logging.WARNING)
    call_command("migrate", verbosity=0)
    populate_runs(args.runs)
    populate_loop(args.loop_items)
    populate_people()
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    loop_run = Execution.objects.filter(workflow__name="Bench loop").latest("id").pk
    run = Execution.objects.filter(workflow__name=FLOWS[0], status="failed").order_by("-id").first().pk
    print(f"runs: {Execution.objects.count():,}; median of {args.repeat} requests as a superuser")
    print(f"{'page':32s} {'ms':>9s} {'cpu ms':>9s} {'KB':>9s} {'queries':>8s} {'calls':>9s}")
    rows = {}
    for label, url in pages(loop_run, run):
        ms, cpu, size, queries, calls = measure(client, url, args.repeat)
        row = {"ms": round(ms, 1), "cpu_ms": round(cpu, 1), "kb": round(size / 1024, 1), "queries": queries}
        rows[label] = row | {"calls": calls}
        print(f"{label:32s} {ms:9.1f} {cpu:9.1f} {size / 1024:9.1f} {queries:8d} {calls:9,d}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
