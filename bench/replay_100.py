"""Replay history at its target: 100 past runs of a 10-step workflow replayed through a draft on one worker.

Usage (PostgreSQL + Redis; the database is created if missing, migrated, and the bench workflow made afresh):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/faos_bench_replay CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
        .venv/bin/python bench/replay_100.py [--runs 100] [--rounds 1]

The workflow has 10 steps: set, condition, approval, send_email, a 1 s wait, switch, three logs and a
reply; runs pass 7 or 8 of them. It starts one real worker (concurrency 2, with its Beat), makes `--runs` live runs
(a manager decides each approval as it opens: most approved, every tenth rejected), then edits the draft (a higher
threshold for asking, a new subject) and asks for a replay of them all, as the API does. It prints the time from the
request to the finished report, against the target of 60 s, and the report's summary. Not part of the test suite.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")
TARGET = 60.0  # seconds, issue #16: 100 runs of a 10-step workflow on one worker


def bench_steps() -> list[dict]:
    """The bench workflow's steps: the replay tests' refund check (tests/replays/factories.py) among eight more."""
    from tests.replays.factories import refund_check

    return [
        {"key": "prepare", "kind": "action", "config": {"action": "set", "input": {"total": "{{trigger.amount}}"}}},
        *refund_check(100, then="notify"),
        {
            "key": "notify",
            "kind": "action",
            "config": {
                "action": "send_email",
                "input": {
                    "to": "{{trigger.customer}}",
                    "subject": "Refund of {{trigger.amount}}",
                    "body": "On its way.",
                },
            },
        },
        {"key": "pause", "kind": "wait", "config": {"seconds": 1}},
        {
            "key": "classify",
            "kind": "switch",
            "config": {"value": "{{trigger.tier}}"},
            "branches": {"gold": "gold_note", "silver": "silver_note", "default": "wrap_up"},
        },
        {
            "key": "gold_note",
            "kind": "action",
            "config": {"action": "log", "input": {"message": "gold"}},
            "next": "wrap_up",
        },
        {"key": "silver_note", "kind": "action", "config": {"action": "log", "input": {"message": "silver"}}},
        {"key": "wrap_up", "kind": "action", "config": {"action": "log", "input": {"message": "done"}}, "next": "end"},
        {"key": "tell_rejected", "kind": "action", "config": {"action": "log", "input": {"message": "declined"}}},
    ]


def make_workflow():
    """The bench workflow, active, with its manager and editor."""
    from django.contrib.auth.models import Group

    from executions.models import Execution
    from tests.factories import EDITORS, UserFactory
    from workflows.models import Workflow
    from workflows.services import workflow_activate, workflow_import

    Execution.objects.filter(workflow__name="Replay bench").delete()  # runs hold their version: they go first
    Workflow.objects.filter(name="Replay bench").update(status="archived", active_version=None)
    Workflow.objects.filter(name="Replay bench").delete()
    managers, _ = Group.objects.get_or_create(name="Managers")
    manager = UserFactory(username="bench-manager", is_staff=True)
    managers.user_set.add(manager)
    editor = UserFactory(username="bench-editor", is_staff=True, roles=[EDITORS])
    steps = [{"name": s["key"].replace("_", " ").title(), **s} for s in bench_steps()]
    workflow = workflow_import(definition={"name": "Replay bench", "steps": steps}, owner=editor)
    workflow_activate(workflow=workflow, user=editor)
    return workflow, editor, manager


def make_history(workflow, manager, runs: int) -> list[int]:
    """`runs` live runs on the worker; each approval decided as it opens."""
    from bench.workers import wait_for
    from executions.approvals import approval_decide
    from executions.models import Approval, Execution
    from executions.services import execution_start

    ids = []
    for n in range(runs):
        payload = {"amount": (n * 37) % 300, "customer": f"c{n}@example.com", "tier": ("gold", "silver", "")[n % 3]}
        ids.append(execution_start(workflow=workflow, input=payload, trigger_kind="webhook").pk)

    def decided_all() -> bool:
        # Only approvals whose step has parked: one decided in the instant between its opening and the step's park
        # is not woken (the decision finds no parked step to wake; see the replay report's notes).
        parked = Approval.objects.filter(
            execution_id__in=ids, status="pending", step_run__status="pending", step_run__waiting_for="approval"
        )
        for approval in parked:
            verdict = "reject" if approval.execution_id % 10 == 0 else "approve"
            approval_decide(approval_id=approval.pk, user=manager, decision=verdict, comment="bench")
        return not Execution.objects.filter(pk__in=ids).exclude(status__in=Execution.FINISHED).exists()

    wait_for(decided_all, timeout=60, message="the live runs to finish")
    return ids


def edit_draft(workflow) -> None:
    """The change under review: a manager is asked from 150 on, and the e-mail's subject says more."""
    from tests.replays.factories import set_threshold
    from workflows.models import Step

    set_threshold(workflow, 150)
    notify = Step.objects.get(workflow=workflow, key="notify")
    notify.config["input"]["subject"] = "Your refund of {{trigger.amount}} is on its way"
    notify.save()


def replay_once(workflow, editor, runs: int):
    from bench.workers import wait_for
    from replays.models import Replay
    from replays.services import replay_request

    started = time.monotonic()
    replay = replay_request(workflow=workflow, user=editor, selection_data={"last": runs})
    wait_for(
        lambda: Replay.objects.filter(pk=replay.pk, status="finished").exists(),
        timeout=60,
        message="the replay to finish",
    )
    return time.monotonic() - started, Replay.objects.get(pk=replay.pk)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.workers import Worker, purge_broker
    from executions.models import StepRun

    purge_broker()
    log_dir = ROOT / "var" / "bench-replay"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "EMAIL_URL": "consolemail://", "FAOS_SWEEP_INTERVAL": "1"}
    workflow, editor, manager = make_workflow()
    worker = Worker(log_dir, env, name="replay")  # one worker, concurrency 2, with its Beat
    try:
        history = make_history(workflow, manager, args.runs)
        steps_then = StepRun.objects.filter(execution_id__in=history).count()
        edit_draft(workflow)
        results = [replay_once(workflow, editor, args.runs) for _ in range(args.rounds)]
    finally:
        worker.stop()
    print(f"workflow          : {workflow.steps.count()} steps; {args.runs} past runs ({steps_then} step runs)")
    for seconds, replay in results:
        steps_now = StepRun.objects.filter(execution__trigger_meta__replay__replay=replay.pk).count()
        verdict = "within" if seconds < TARGET else "OVER"
        print(f"replay #{replay.pk:<9}: {seconds:.1f} s for {replay.total} runs ({steps_now} step runs), "
              f"{replay.total / seconds:.1f} runs/s; {verdict} the {TARGET:.0f} s target")  # fmt: skip
        print(f"  summary         : {replay.summary}")


if __name__ == "__main__":
    main()
