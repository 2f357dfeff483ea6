"""Past runs made as rows (no worker), and a draft that differs from the active version: for API and admin tests."""

from executions.models import Execution, StepRun
from replays.models import Replay, ReplayItem
from replays.report import compare, stored, trace, verdict
from tests.factories import EditorFactory, active_workflow, log_step
from workflows.models import Step


def workflow_with_history(runs: int = 3, owner=None):
    """An active two-step workflow with `runs` finished runs, and a draft whose second step says something else."""
    owner = owner or EditorFactory()
    workflow = active_workflow([log_step("greet", "hi {{trigger.name}}"), log_step("wrap_up", "bye")], owner=owner)
    history = [finished_run(workflow, name=f"n{i}", status="failed" if i == 0 else "succeeded") for i in range(runs)]
    Step.objects.filter(workflow=workflow, key="wrap_up").update(
        config={"action": "log", "input": {"message": "see you"}}
    )
    return workflow, history


def finished_run(workflow, *, name: str, status: str = "succeeded", version=None) -> Execution:
    """A finished run of the active version with one row per step."""
    run = Execution.objects.create(
        workflow=workflow, version=version or workflow.active_version, input={"name": name}, status=status
    )
    for key, message in (("greet", f"hi {name}"), ("wrap_up", "bye")):
        failed = status == "failed" and key == "wrap_up"
        StepRun.objects.create(
            execution=run,
            step_key=key,
            step_kind="action",
            status="failed" if failed else "succeeded",
            input={"message": message},
            output=None if failed else {"message": message},
            error="boom" if failed else "",
        )
    return run


def replay_with_report(workflow, history, user, draft_version) -> Replay:
    """A finished replay whose items compare each run with a copy of it that says "see you" at the end."""
    replay = Replay.objects.create(
        workflow=workflow,
        draft_version=draft_version,
        base_version=workflow.active_version,
        requested_by=user,
        total=len(history),
        done=len(history),
        status="finished",
    )
    verdicts = []
    for run in history:
        old = trace({"status": run.status}, list(run.step_runs.order_by("id").values()))
        new_steps = [{**s, "status": "succeeded", "error": ""} for s in run.step_runs.order_by("id").values()]
        new_steps[-1] = {**new_steps[-1], "input": {"message": "see you"}, "output": {"message": "see you"}}
        new = trace({"status": "succeeded"}, new_steps)
        compared = compare(old, new)
        verdicts.append(verdict(old, new, compared["differences"]))
        ReplayItem.objects.create(
            replay=replay,
            original_execution=run,
            verdict=verdicts[-1],
            outcome_changed=compared["outcome_changed"],
            diff={"old": stored(old), "new": stored(new), **compared},
        )
    from replays.report import summary

    replay.summary = summary(verdicts)
    replay.save()
    return replay


def refund_check(threshold: int = 100, *, then: str = "process_refund") -> list[dict]:
    """The refund's first two steps: an amount over the threshold asks a manager; `then` follows unless rejected."""
    return [
        {
            "key": "check_amount",
            "name": "Amount Over Threshold?",
            "kind": "condition",
            "config": {"expression": f"trigger.amount > {threshold}"},
            "branches": {"true": "manager_approval", "false": then},
        },
        {
            "key": "manager_approval",
            "name": "Manager Approval",
            "kind": "approval",
            "config": {"title": "Refund {{trigger.amount}}?", "amount": "{{trigger.amount}}", "groups": ["Managers"]},
            "branches": {"on_approved": then, "on_rejected": "tell_rejected"},
        },
    ]


def refund_steps(threshold: int = 100) -> list[dict]:
    """Amount over the threshold asks a manager; a refund e-mail (a side effect: recorded in test runs) follows."""
    return [
        *refund_check(threshold),
        {
            "key": "process_refund",
            "name": "Process Refund",
            "config": {
                "action": "send_email",
                "input": {"to": "{{trigger.customer}}", "subject": "Refund of {{trigger.amount}}", "body": "Done."},
            },
        },
        log_step("send_confirmation", "refunded {{trigger.amount}}", next_step="end"),
        log_step("tell_rejected", "declined"),
    ]


def set_threshold(workflow, threshold: int) -> None:
    """The draft's change: a different threshold for asking a manager."""
    Step.objects.filter(workflow=workflow, key="check_amount").update(
        config={"expression": f"trigger.amount > {threshold}"}
    )
