"""Replay history on a real worker: past runs (approvals decided by a manager) replayed through a draft with a
higher threshold; the worker starts the replay runs, answers the approvals as they were answered and writes the
report, whose progress the test follows."""

import pytest
from django.contrib.auth.models import Group

from executions.approvals import approval_decide
from executions.models import Approval, Execution
from executions.services import execution_start
from replays.models import Replay
from replays.services import replay_request
from tests.e2e.conftest import wait_for
from tests.factories import EDITORS, UserFactory, workflow_with_steps
from tests.replays.factories import refund_steps, set_threshold
from workflows.services import workflow_activate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AMOUNTS = (50, 120, 150, 250, 300, 80)  # 120 and 150 asked a manager then, and will not with the draft


def decide_parked(ids, manager) -> bool:
    """Decide each approval whose step has parked (300 is rejected); True once every run has finished."""
    parked = Approval.objects.filter(
        execution_id__in=ids, status="pending", step_run__status="pending", step_run__waiting_for="approval"
    ).select_related("execution")
    for approval in parked:
        rejected = approval.execution.input["amount"] == 300
        decision, comment = ("reject", "too much") if rejected else ("approve", "")
        approval_decide(approval_id=approval.pk, user=manager, decision=decision, comment=comment)
    return not Execution.objects.filter(pk__in=ids).exclude(status__in=Execution.FINISHED).exists()


def test_a_replay_runs_on_the_worker_and_reports_which_runs_the_draft_changes(start_worker, settings):
    manager = UserFactory(username="maria", is_staff=True)
    Group.objects.create(name="Managers").user_set.add(manager)
    editor = UserFactory(username="eddie", is_staff=True, roles=[EDITORS])
    workflow = workflow_with_steps(refund_steps(), owner=editor)
    workflow_activate(workflow=workflow, user=editor)
    worker = start_worker()
    ids = [
        execution_start(
            workflow=workflow, input={"amount": a, "customer": "ann@example.com"}, trigger_kind="webhook"
        ).pk
        for a in AMOUNTS
    ]
    wait_for(lambda: decide_parked(ids, manager), timeout=60, message="the past runs to finish")
    assert set(Execution.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"succeeded"}

    set_threshold(workflow, 200)
    replay = replay_request(workflow=workflow, user=editor, selection_data={"last": len(AMOUNTS)})
    assert replay.status == "queued"  # the worker does the rest
    wait_for(
        lambda: Replay.objects.filter(pk=replay.pk, status="finished").exists(),
        timeout=60,
        message="the replay to finish",
    )
    replay.refresh_from_db()
    assert replay.done == replay.total == len(AMOUNTS)
    verdicts = {
        i.original_execution.input["amount"]: i.verdict for i in replay.items.select_related("original_execution")
    }
    assert verdicts == {50: "same", 120: "different", 150: "different", 250: "same", 300: "same", 80: "same"}
    assert replay.summary["same"] == 4 and replay.summary["different"] == 2
    runs = Execution.objects.filter(pk__in=replay.items.values("replay_execution"))
    assert all(run.is_test and run.fast_forward and run.version == replay.draft_version for run in runs)
    assert {s.worker.split("@")[0] for r in runs for s in r.step_runs.all()} == {worker.node}
    assert Approval.objects.filter(execution__in=runs).count() == 0  # answered from the originals, nobody asked
