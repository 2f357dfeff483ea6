"""Each step kind through the runtime, in-process: switch, wait, parallel joins, loops."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from executions.models import Execution
from executions.runtime.sweep import sweep
from executions.services import execution_start
from tests.factories import active_workflow as active
from tests.factories import log_step as log
from tests.factories import workflow_with_steps

pytestmark = pytest.mark.django_db(transaction=True)


def path(execution):
    return list(execution.step_runs.order_by("id").values_list("step_key", flat=True))


def run(workflow, payload, **kw):
    execution = execution_start(workflow=workflow, input=payload, **kw)
    execution.refresh_from_db()
    return execution


SWITCH = [
    {
        "key": "route",
        "name": "Route Lead",
        "kind": "switch",
        "config": {"value": "{{trigger.score}}"},
        "branches": {"hot": "notify_rep", "warm": "nurture", "default": "long_term"},
    },
    log("notify_rep", next_step="end"),
    log("nurture", next_step="end"),
    log("long_term"),
]


@pytest.mark.parametrize(("score", "taken"), [("hot", "notify_rep"), ("warm", "nurture"), ("cold", "long_term")])
def test_switch_takes_the_matching_case_or_default(score, taken):
    execution = run(active(SWITCH), {"score": score})
    assert execution.status == "succeeded" and path(execution) == ["route", taken]


def test_a_two_day_wait_is_a_durable_timer_that_resumes_exactly_once():
    workflow = active(
        [
            log("before"),
            {"key": "pause", "name": "Wait 2 Days", "kind": "wait", "config": {"duration": "2d"}},
            log("after", "{{pause.result.waited_until}}"),
        ]
    )
    execution = run(workflow, {})
    assert execution.status == "waiting" and path(execution) == ["before", "pause"]
    wake = execution.step_runs.get(step_key="pause").wake_at
    assert timedelta(days=2) - timedelta(seconds=5) < wake - timezone.now() <= timedelta(days=2)
    assert sweep().kicked == []  # nothing is due yet
    with time_machine.travel(wake + timedelta(seconds=1), tick=False):
        first, second = sweep(), sweep()
    execution.refresh_from_db()
    assert first.kicked == [execution.pk] and second.kicked == []
    assert execution.status == "succeeded" and path(execution) == ["before", "pause", "after"]
    assert execution.step_runs.filter(step_key="after").count() == 1


def test_test_runs_can_fast_forward_waits():
    workflow = workflow_with_steps(
        [{"key": "pause", "name": "Wait", "kind": "wait", "config": {"duration": "3d"}}, log("after")]
    )
    execution = run(workflow, {}, is_test=True, trigger_meta={"fast_forward": True})
    assert (
        execution.status == "succeeded" and execution.step_runs.get(step_key="pause").output["fast_forwarded"] is True
    )


def test_a_fast_forwarded_test_runs_sub_workflow_fast_forwards_the_childs_waits_too():
    child = active([{"key": "pause", "name": "Wait", "kind": "wait", "config": {"duration": "3d"}}], name="Slow")
    parent = workflow_with_steps(
        [{"key": "call", "name": "Call Slow", "kind": "sub_workflow", "config": {"workflow": "Slow"}}]
    )
    execution = run(parent, {}, is_test=True, trigger_meta={"fast_forward": True})
    assert execution.status == "succeeded", execution.error
    kid = Execution.objects.get(workflow=child)
    assert kid.is_test and kid.trigger_meta["fast_forward"] is True and kid.status == "succeeded"


PARALLEL = [
    {
        "key": "premium",
        "name": "Premium Onboarding",
        "kind": "parallel",
        "config": {
            "branches": [["assign_manager"], ["schedule_call", "send_invite"], ["send_resources"]],
            "join": "all",
        },
    },
    log("assign_manager", "manager for {{trigger.email}}"),
    log("schedule_call"),
    log("send_invite", "{{schedule_call.status}}"),
    log("send_resources"),
    log("finish", "{{assign_manager.result.message}}"),
]


def test_parallel_waits_for_all_branches_then_carries_on_with_their_results():
    execution = run(active(PARALLEL), {"email": "a@example.com"})
    assert execution.status == "succeeded", execution.error
    assert sorted(path(execution)) == sorted(
        ["premium", "assign_manager", "schedule_call", "send_invite", "send_resources", "finish"]
    )
    assert path(execution)[-1] == "finish"
    assert execution.step_runs.get(step_key="finish").input == {"message": "manager for a@example.com"}
    assert execution.step_runs.get(step_key="send_invite").input == {"message": "succeeded"}
    assert sorted(execution.step_runs.get(step_key="premium").output["finished"]) == [0, 1, 2]


def test_parallel_any_carries_on_after_the_first_branch_and_cancels_the_rest():
    steps = [
        dict(PARALLEL[0], config={"branches": [["assign_manager"], ["pause"]], "join": "any"}),
        log("assign_manager"),
        {"key": "pause", "name": "Slow Branch", "kind": "wait", "config": {"duration": "1h"}},
        log("finish"),
    ]
    execution = run(active(steps), {"email": "x"})
    assert execution.status == "succeeded"
    assert execution.step_runs.get(step_key="pause").status == "cancelled"
    assert execution.step_runs.filter(step_key="finish").count() == 1


LOOP = [
    {
        "key": "each_invoice",
        "name": "For Each Invoice",
        "kind": "loop",
        "config": {"items": "{{trigger.invoices}}", "steps": ["send_reminder", "log_action"], "mode": "sequential"},
    },
    log("send_reminder", "remind {{item.customer}} #{{index}}"),
    log("log_action", "{{send_reminder.result.message}} logged"),
    log("summary", "{{length(each_invoice.result.results)}} reminders"),
]


def test_sequential_loop_runs_the_body_per_item_with_item_and_index_and_gathers_results():
    invoices = [{"customer": "acme"}, {"customer": "globex"}, {"customer": "initech"}]
    execution = run(active(LOOP), {"invoices": invoices})
    assert execution.status == "succeeded", execution.error
    reminders = execution.step_runs.filter(step_key="send_reminder").order_by("id")
    assert [r.input["message"] for r in reminders] == ["remind acme #0", "remind globex #1", "remind initech #2"]
    assert [r.scope for r in reminders] == ["each_invoice[0]", "each_invoice[1]", "each_invoice[2]"]
    results = execution.step_runs.get(step_key="each_invoice").output["results"]
    assert [r["message"] for r in results] == [
        f"remind {c} #{i} logged" for i, c in enumerate(["acme", "globex", "initech"])
    ]
    assert execution.step_runs.get(step_key="summary").input == {"message": "3 reminders"}


def test_a_loop_over_an_empty_list_goes_straight_on():
    execution = run(active(LOOP), {"invoices": []})
    assert execution.status == "succeeded" and path(execution) == ["each_invoice", "summary"]


def test_a_loop_over_too_many_items_fails_clearly():
    steps = [dict(LOOP[0], config={**LOOP[0]["config"], "max_items": 2}), *LOOP[1:]]
    execution = run(active(steps), {"invoices": [1, 2, 3]})
    assert execution.status == "failed" and "more than this loop's maximum of 2" in execution.error


def test_parallel_loop_respects_the_concurrency_cap_in_what_it_starts():
    steps = [dict(LOOP[0], config={**LOOP[0]["config"], "mode": "parallel", "concurrency": 2}), *LOOP[1:]]
    execution = run(active(steps), {"invoices": [{"customer": str(i)} for i in range(5)]})
    assert execution.status == "succeeded"
    assert execution.step_runs.filter(step_key="log_action").count() == 5


def test_sequential_loop_delay_is_a_durable_timer_between_items():
    steps = [dict(LOOP[0], config={**LOOP[0]["config"], "delay_seconds": 60}), *LOOP[1:]]
    execution = run(active(steps), {"invoices": [{"customer": "a"}, {"customer": "b"}]})
    assert execution.status in ("running", "pending", "waiting")
    pending = execution.step_runs.get(step_key="send_reminder", scope="each_invoice[1]")
    assert pending.status == "pending" and pending.wake_at > timezone.now() + timedelta(seconds=55)
    with time_machine.travel(pending.wake_at + timedelta(seconds=1), tick=False):
        sweep()
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED


PROPOSAL = [
    log("check_in", "checking in on {{trigger.proposal_id}}"),
    {
        "key": "await_reply",
        "name": "Wait For Response",
        "kind": "wait_for_event",
        "config": {
            "event": "proposal.replied",
            "match": "event.data.proposal_id == trigger.proposal_id",
            "timeout": "3d",
        },
        "branches": {"on_event": "schedule_meeting", "on_timeout": "second_follow_up"},
    },
    log("schedule_meeting", "meet {{await_reply.result.event.data.from}}", next_step="end"),
    log("second_follow_up", "value reminder"),
]


def test_wait_for_event_resumes_on_a_matching_event_only():
    from executions.events import event_emit

    execution = run(active(PROPOSAL), {"proposal_id": "P-7"})
    assert execution.status == "waiting"
    other = event_emit(type="proposal.replied", data={"proposal_id": "P-8", "from": "x"})
    assert other.resumed == 0
    event = event_emit(type="proposal.replied", data={"proposal_id": "P-7", "from": "Grace"})
    execution.refresh_from_db()
    assert event.resumed == 1 and execution.status == "succeeded"
    assert path(execution) == ["check_in", "await_reply", "schedule_meeting"]
    assert execution.step_runs.get(step_key="schedule_meeting").input == {"message": "meet Grace"}
    assert event_emit(type="proposal.replied", data={"proposal_id": "P-7"}).resumed == 0  # resumes once


def test_wait_for_event_times_out_into_its_timeout_branch():
    execution = run(active(PROPOSAL), {"proposal_id": "P-9"})
    wake = execution.step_runs.get(step_key="await_reply").wake_at
    assert timedelta(days=3) - timedelta(seconds=5) < wake - timezone.now() <= timedelta(days=3)
    with time_machine.travel(wake + timedelta(seconds=1), tick=False):
        sweep()
    execution.refresh_from_db()
    assert execution.status == "succeeded"
    assert path(execution) == ["check_in", "await_reply", "second_follow_up"]
    assert execution.step_runs.get(step_key="await_reply").output["timed_out"] is True


def test_an_event_that_arrived_before_the_step_waited_still_counts():
    from executions.events import event_emit

    steps = [{"key": "pause", "name": "Wait A Bit", "kind": "wait", "config": {"duration": "1h"}}, *PROPOSAL]
    execution = run(active(steps), {"proposal_id": "P-1"})
    event_emit(type="proposal.replied", data={"proposal_id": "P-1", "from": "Early Bird"})
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=5), tick=False):
        sweep()
    execution.refresh_from_db()
    assert path(execution)[-1] == "schedule_meeting" and execution.status == "succeeded"


def test_wait_and_retry_polling_is_a_bounded_composition():
    """The guide's pattern 2: initiate → wait → check → if pending wait again (bounded) → confirm or notify."""
    steps = [
        {"key": "initiate", "name": "Initiate Transfer", "config": {"action": "set", "inputs": {"rounds": 0}}},
        {"key": "pause", "name": "Wait 30 Minutes", "kind": "wait", "config": {"duration": "30m"}},
        {
            "key": "check",
            "name": "Check Transfer Status",
            "config": {
                "action": "set",
                "inputs": {
                    "rounds": "{{vars.rounds + 1}}",
                    "status": "{{vars.rounds + 1 >= trigger.completes_after ? 'completed' : 'pending'}}",
                },
            },
        },
        {
            "key": "route",
            "name": "Route By Status",
            "kind": "switch",
            "config": {"value": "{{vars.status}}"},
            "branches": {"pending": "again", "completed": "confirm", "default": "notify_finance"},
        },
        {
            "key": "again",
            "name": "Give Up After 3 Rounds",
            "kind": "condition",
            "config": {"expression": "vars.rounds < 3"},
            "branches": {"true": "pause", "false": "notify_finance"},
        },
        log("confirm", "completed after {{vars.rounds}} checks", next_step="end"),
        log("notify_finance", "transfer stuck"),
    ]
    workflow = workflow_with_steps(steps)
    for completes_after, last in ((2, "confirm"), (9, "notify_finance")):
        execution = run(
            workflow, {"completes_after": completes_after}, is_test=True, trigger_meta={"fast_forward": True}
        )
        assert execution.status == "succeeded" and path(execution)[-1] == last
    assert execution.step_runs.filter(step_key="check").count() == 3


def test_sub_workflow_runs_the_child_and_uses_its_output():
    child = active(
        [{"key": "double", "name": "Double", "kind": "complete", "config": {"output": {"twice": "{{trigger.n * 2}}"}}}],
        name="Doubler",
    )
    parent = active(
        [
            {
                "key": "call_child",
                "name": "Call Doubler",
                "kind": "sub_workflow",
                "config": {"workflow": "Doubler", "input": {"n": "{{trigger.n}}"}},
            },
            log("show", "{{call_child.result.twice}}"),
        ]
    )
    execution = run(parent, {"n": 21})
    assert execution.status == "succeeded", execution.error
    assert execution.step_runs.get(step_key="show").input == {"message": 42}
    kid = Execution.objects.get(workflow=child)
    assert kid.parent_step_run.execution_id == execution.pk and kid.trigger_kind == "sub_workflow"


def test_a_failed_sub_workflow_fails_the_step_and_a_waiting_child_wakes_the_parent():
    active(
        [
            {"key": "pause", "name": "Pause", "kind": "wait", "config": {"duration": "1h"}},
            {"key": "boom", "name": "Boom", "kind": "fail", "config": {"message": "child broke"}},
        ],
        name="Fragile",
    )
    parent = active(
        [{"key": "call_child", "name": "Call Fragile", "kind": "sub_workflow", "config": {"workflow": "Fragile"}}]
    )
    execution = run(parent, {})
    assert execution.status == "waiting"
    with time_machine.travel(timezone.now() + timedelta(hours=1, seconds=5), tick=False):
        sweep()
    execution.refresh_from_db()
    assert execution.status == "failed" and "child broke" in execution.error


@pytest.mark.parametrize(("counted", "status"), [(False, "succeeded"), (True, "timed_out")])
def test_paused_time_counts_against_the_timeout_only_when_configured(counted, status):
    workflow = active(
        [{"key": "pause", "name": "Wait", "kind": "wait", "config": {"duration": "1h"}}, log("after")],
        timeout_seconds=300,
        count_paused_time=counted,
    )
    execution = run(workflow, {})
    wake = execution.step_runs.get(step_key="pause").wake_at
    with time_machine.travel(wake + timedelta(seconds=1), tick=False):
        sweep()
    execution.refresh_from_db()
    assert execution.status == status
