"""Replaying past runs through a draft, run in-process (Celery eager): verdicts, answers replayed, progress."""

import pytest

from executions.models import Approval, Execution
from replays.models import Replay
from replays.services import replay_latest_for, replay_request
from tests.factories import UserFactory
from workflows.models import Step
from workflows.services import WorkflowInvalid

from .factories import set_threshold

pytestmark = pytest.mark.django_db(transaction=True)


def items_by_amount(replay: Replay) -> dict:
    return {item.original_execution.input["amount"]: item for item in replay.items.select_related("original_execution")}


def test_a_higher_threshold_changes_only_the_run_that_now_skips_the_approval(refund_history):
    workflow, editor, runs = refund_history
    set_threshold(workflow, 200)
    replay = replay_request(workflow=workflow, user=editor, selection_data={"last": 10})
    replay.refresh_from_db()
    assert replay.status == "finished" and replay.done == replay.total == 4
    assert replay.summary == {
        "total": 4, "same": 3, "different": 1, "newly_failing": 0, "fixed": 0, "no_answer": 0, "not_started": 0,
        "pending": 0,
    }  # fmt: skip
    items = items_by_amount(replay)
    assert {amount: item.verdict for amount, item in items.items()} == {
        50: "same",
        150: "different",
        250: "same",
        300: "same",
    }
    changed = items[150].diff["differences"]
    assert {"kind": "branch", "step": "check_amount", "from": "true", "to": "false"} in changed
    assert {"kind": "step_removed", "step": "manager_approval"} in changed
    assert items[150].outcome_changed is False  # it still succeeds, with the same output


def test_approvals_are_answered_as_in_the_original_without_asking_anyone(refund_history):
    workflow, editor, runs = refund_history
    set_threshold(workflow, 20)  # now 50 asks too; 300 was rejected then
    before = Approval.objects.count()
    replay = replay_request(workflow=workflow, user=editor, selection_data={})
    items = items_by_amount(replay)
    assert Approval.objects.count() == before  # no approval opened, nobody notified
    rejected = items[300].replay_execution.step_runs.get(step_key="manager_approval")
    assert rejected.branch == "on_rejected" and rejected.output["status"] == "rejected"
    assert items[300].verdict == "same"
    assert items[50].verdict == "no_answer"  # the original never asked: nobody answered
    assert "no answer to replay" in items[50].replay_execution.error


def test_recorded_calls_get_the_original_answer_and_changed_ones_are_recorded_not_sent(refund_history, mailoutbox):
    workflow, editor, runs = refund_history
    step = Step.objects.get(workflow=workflow, key="process_refund")
    step.config["input"]["subject"] = "Your refund of {{trigger.amount}}"
    step.save()
    sent_before = len(mailoutbox)
    replay = replay_request(workflow=workflow, user=editor, selection_data={"executions": [runs[50].pk]})
    [item] = replay.items.all()
    assert len(mailoutbox) == sent_before  # a test run sends nothing
    refund = item.replay_execution.step_runs.get(step_key="process_refund")
    assert refund.output["test_mode"] is True and "would_send" in refund.output
    assert item.verdict == "different"
    assert {
        "kind": "value", "step": "process_refund", "field": "input.subject", "from": "Refund of 50",
        "to": "Your refund of 50",
    } in item.diff["differences"]  # fmt: skip


def test_an_unchanged_call_reads_what_the_vendor_answered_then(refund_history):
    workflow, editor, runs = refund_history
    Step.objects.filter(workflow=workflow, key="send_confirmation").update(
        config={"action": "log", "input": {"message": "sent {{process_refund.result.sent}}"}}
    )
    replay = replay_request(workflow=workflow, user=editor, selection_data={"executions": [runs[50].pk]})
    [item] = replay.items.all()
    refund = item.replay_execution.step_runs.get(step_key="process_refund")
    assert refund.output == runs[50].step_runs.get(step_key="process_refund").output  # the original's answer
    assert item.replay_execution.step_runs.get(step_key="send_confirmation").output["message"] == "sent 1"


def test_a_step_that_now_fails_is_newly_failing_and_names_the_step(refund_history):
    workflow, editor, runs = refund_history
    step = Step.objects.get(workflow=workflow, key="process_refund")
    step.config["input"]["to"] = "{{trigger.amount}}"  # a number where an address belongs: refused at run time
    step.save()
    replay = replay_request(workflow=workflow, user=editor, selection_data={"executions": [runs[50].pk]})
    [item] = replay.items.all()
    assert item.verdict == "newly_failing" and item.outcome_changed
    failure = next(d for d in item.diff["differences"] if d["kind"] == "new_failure")
    assert failure["step"] == "process_refund" and "to" in failure["error"]
    assert {"kind": "outcome", "step": None, "from": "succeeded", "to": "failed"} in item.diff["differences"]
    assert {"kind": "step_removed", "step": "send_confirmation"} in item.diff["differences"]


def test_a_replay_is_refused_for_an_invalid_draft_or_a_person_who_may_not_edit_the_workflow(refund_history):
    from workflows.authz import Refused

    workflow, editor, runs = refund_history
    Step.objects.filter(workflow=workflow, key="check_amount").update(branches={"true": "nowhere"})
    with pytest.raises(WorkflowInvalid):
        replay_request(workflow=workflow, user=editor, selection_data={})
    with pytest.raises(Refused):
        replay_request(workflow=workflow, user=UserFactory(is_staff=True), selection_data={})
    assert not Replay.objects.exists()


def test_replays_take_no_place_from_live_runs_under_a_concurrency_limit(refund_history):
    workflow, editor, runs = refund_history
    workflow.concurrency_limit, workflow.concurrency_overflow = 1, "skip"
    workflow.save()
    set_threshold(workflow, 200)
    replay = replay_request(workflow=workflow, user=editor, selection_data={})
    assert not replay.items.filter(replay_execution__status="cancelled").exists()
    assert set(Execution.objects.filter(is_test=True).values_list("concurrency_key", flat=True)) == {None}


def test_the_latest_replay_of_a_draft_version_is_found_for_activation(refund_history):
    workflow, editor, runs = refund_history
    set_threshold(workflow, 200)
    first = replay_request(workflow=workflow, user=editor, selection_data={"last": 1})
    second = replay_request(workflow=workflow, user=editor, selection_data={"status": "succeeded", "last": 2})
    assert first.draft_version == second.draft_version
    assert replay_latest_for(workflow=workflow, version=first.draft_version) == second
    assert replay_latest_for(workflow=workflow, version=workflow.active_version) is None
