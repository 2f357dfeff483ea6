"""The step language on real workers: parallel branches overlap, fan-out honours its cap, loops space items,
and the guide's New Customer Onboarding example runs end to end."""

import pytest

from executions.models import Execution
from executions.services import execution_start
from tests.e2e.conftest import wait_for
from tests.factories import active_workflow as active
from tests.factories import workflow_with_steps

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def call(key, url, path, **extra):
    inputs = {"method": "POST", "url": f"{url}{path}", "json": extra.pop("json", {"step": key})}
    return {
        "key": key,
        "name": key.replace("_", " ").title(),
        "config": {"action": "http_request", "inputs": inputs},
        **extra,
    }


def finish(execution, timeout=90):
    def done():
        execution.refresh_from_db()
        return execution.is_finished

    wait_for(done, timeout=timeout, message=f"run #{execution.pk} to finish")
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    return execution


def overlaps(a, b) -> bool:
    return a.started_at < b.finished_at and b.started_at < a.finished_at


def test_parallel_branches_run_concurrently_on_workers_and_join(start_worker, fake_server):
    fake_server.route("POST", "/slow", delay=1.5)
    workflow = active(
        [
            {
                "key": "premium",
                "name": "Premium Onboarding",
                "kind": "parallel",
                "config": {"branches": [["assign_manager"], ["schedule_call"]], "join": "all"},
            },
            call("assign_manager", fake_server.url, "/slow"),
            call("schedule_call", fake_server.url, "/slow"),
            {"key": "done", "name": "Done", "kind": "complete", "config": {"output": "{{premium.result.finished}}"}},
        ]
    )
    start_worker()
    execution = finish(execution_start(workflow=workflow, input={}))
    a, b = (execution.step_runs.get(step_key=k) for k in ("assign_manager", "schedule_call"))
    assert overlaps(a, b), (a.started_at, a.finished_at, b.started_at, b.finished_at)
    assert fake_server.max_in_flight == 2
    assert execution.step_runs.get(step_key="done").started_at >= max(a.finished_at, b.finished_at)


def test_fan_out_honours_the_concurrency_cap_and_gathers_results(start_worker, fake_server):
    fake_server.route("POST", "/inventory", delay=0.6, body={"available": True})
    workflow = active(
        [
            {
                "key": "check_each",
                "name": "Check Inventory For Each Item",
                "kind": "loop",
                "config": {"items": "{{trigger.items}}", "steps": ["check"], "mode": "parallel", "concurrency": 2},
            },
            call("check", fake_server.url, "/inventory", json={"sku": "{{item}}"}),
            {
                "key": "combine",
                "name": "Combine Results",
                "kind": "complete",
                "config": {"output": {"all_available": "{{check_each.result.results.all(r, r.body.available)}}"}},
            },
        ]
    )
    start_worker()
    start_worker()  # four processes could run four items at once; the cap says two
    execution = finish(execution_start(workflow=workflow, input={"items": ["a", "b", "c", "d", "e"]}))
    assert fake_server.max_in_flight == 2
    assert sorted(r.json()["sku"] for r in fake_server.requests) == ["a", "b", "c", "d", "e"]
    assert execution.output == {"all_available": True}


def test_a_sequential_loop_spaces_items_by_its_rate_limit(start_worker, fake_server):
    workflow = active(
        [
            {
                "key": "each_invoice",
                "name": "For Each Invoice",
                "kind": "loop",
                "config": {
                    "items": "{{trigger.invoices}}",
                    "steps": ["remind"],
                    "mode": "sequential",
                    "delay_seconds": 1,
                },
            },
            call("remind", fake_server.url, "/remind", json={"invoice": "{{item}}"}),
        ]
    )
    start_worker()
    execution = finish(execution_start(workflow=workflow, input={"invoices": [1, 2, 3, 4]}))
    starts = list(
        execution.step_runs.filter(step_key="remind").order_by("started_at").values_list("started_at", flat=True)
    )
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    assert len(starts) == 4 and all(gap >= 1.0 for gap in gaps), gaps


def test_the_guides_new_customer_onboarding_example(start_worker, fake_server):
    """Webhook data → verify e-mail → premium/standard → parallel premium steps, wait for all; 300 s timeout,
    continue on error, 3 attempts with 2x back-off."""
    fake_server.route("POST", "/resources", status=503)  # one premium step keeps failing
    retry = {"retry_max_attempts": 3, "retry_initial_delay": 0.2, "retry_multiplier": 2, "retry_jitter": False}
    steps = [
        {
            "key": "verify_email",
            "name": "Verify Customer Email",
            "kind": "condition",
            "config": {"expression": 'trigger.customer.email contains "@"'},
            "branches": {"false": "reject"},
        },
        {
            "key": "check_plan",
            "name": "Check Plan Type",
            "kind": "condition",
            "config": {"expression": '{{trigger.customer.plan}} === "premium"'},
            "branches": {"true": "premium_onboarding", "false": "standard_onboarding"},
        },
        {
            "key": "premium_onboarding",
            "name": "Premium Onboarding",
            "kind": "parallel",
            "next_step": "welcome",
            "config": {"branches": [["assign_manager"], ["schedule_kickoff"], ["send_resources"]], "join": "all"},
        },
        call("assign_manager", fake_server.url, "/managers", on_error="continue", **retry),
        call("schedule_kickoff", fake_server.url, "/meetings", on_error="continue", **retry),
        call("send_resources", fake_server.url, "/resources", on_error="continue", **retry),
        call("standard_onboarding", fake_server.url, "/standard", on_error="continue", **retry),
        call(
            "welcome",
            fake_server.url,
            "/welcome",
            json={"to": "{{trigger.customer.email}}"},
            on_error="continue",
            **retry,
        ),
        {
            "key": "done",
            "name": "Done",
            "kind": "complete",
            "config": {"output": {"plan": "{{trigger.customer.plan}}"}},
            "next_step": "end",
        },
        {"key": "reject", "name": "Reject Invalid Email", "kind": "fail", "config": {"message": "invalid e-mail"}},
    ]
    workflow = active(steps, timeout_seconds=300)
    start_worker()
    premium = finish(execution_start(workflow=workflow, input={"customer": {"email": "p@x.io", "plan": "premium"}}))
    resources = premium.step_runs.filter(step_key="send_resources").order_by("attempt")
    assert [(r.attempt, r.status) for r in resources] == [(1, "failed"), (2, "failed"), (3, "failed")]
    gaps = [(b.started_at - a.finished_at).total_seconds() for a, b in zip(resources, resources[1:], strict=False)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4  # 2x back-off
    assert premium.step_runs.filter(step_key="welcome", status="succeeded").count() == 1
    standard = finish(execution_start(workflow=workflow, input={"customer": {"email": "s@x.io", "plan": "basic"}}))
    assert list(standard.step_runs.order_by("id").values_list("step_key", flat=True)) == [
        "verify_email",
        "check_plan",
        "standard_onboarding",
        "welcome",
        "done",
    ]


def test_pattern_1_refund_approval_on_a_real_worker(start_worker, fake_server, django_user_model):
    from django.contrib.auth.models import Group

    from executions.approvals import approval_decide
    from executions.models import Approval

    managers = Group.objects.create(name="Managers")
    maria = django_user_model.objects.create_user("maria", "maria@example.com", "pw")
    managers.user_set.add(maria)
    workflow = active(
        [
            {
                "key": "check_amount",
                "name": "Amount Over $100?",
                "kind": "condition",
                "config": {"expression": "trigger.amount > 100"},
                "branches": {"true": "approve", "false": "refund"},
            },
            {
                "key": "approve",
                "name": "Manager Approval",
                "kind": "approval",
                "config": {
                    "title": "Refund {{trigger.amount}}?",
                    "amount": "{{trigger.amount}}",
                    "groups": ["Managers"],
                },
                "branches": {"on_approved": "refund", "on_rejected": "notify_customer"},
            },
            call("refund", fake_server.url, "/refunds", json={"amount": "{{trigger.amount}}"}),
            call("notify_customer", fake_server.url, "/confirm", json={"refunded": "{{refund.status == 'succeeded'}}"}),
        ]
    )
    start_worker()
    execution = execution_start(workflow=workflow, input={"amount": 180})
    approval = wait_for(lambda: Approval.objects.filter(execution=execution).first(), message="the approval")
    wait_for(lambda: Execution.objects.get(pk=execution.pk).status == "waiting", message="the run to wait")
    approval_decide(approval_id=approval.pk, user=maria, decision="approve", comment="ok")
    finish(execution)
    assert [r.path for r in fake_server.requests] == ["/refunds", "/confirm"]
    assert fake_server.requests[0].json() == {"amount": 180}


def test_pattern_2_wait_and_retry_polling_on_a_real_worker(start_worker, fake_server):
    fake_server.route("GET", "/transfer", body={"status": "completed"})
    workflow = workflow_with_steps(
        [
            call("initiate", fake_server.url, "/transfers"),
            {"key": "wait_hour", "name": "Wait 1 Hour", "kind": "wait", "config": {"duration": "1h"}},
            {
                "key": "check_status",
                "name": "Check Transfer Status",
                "config": {"action": "http_request", "inputs": {"url": f"{fake_server.url}/transfer"}},
            },
            {
                "key": "route",
                "name": "Route By Status",
                "kind": "switch",
                "config": {"value": "{{check_status.result.body.status}}"},
                "branches": {"pending": "wait_more", "completed": "confirm", "default": "notify_finance"},
            },
            {
                "key": "wait_more",
                "name": "Wait 30 More Minutes",
                "kind": "wait",
                "config": {"duration": "30m"},
                "next_step": "check_status",
            },
            call("confirm", fake_server.url, "/confirmations", next_step="end"),
            call("notify_finance", fake_server.url, "/finance"),
        ]
    )
    start_worker()
    execution = finish(
        execution_start(
            workflow=workflow, input={}, is_test=True, trigger_meta={"fast_forward": True, "send_reads": True}
        )
    )
    assert list(execution.step_runs.order_by("id").values_list("step_key", flat=True)) == [
        "initiate",
        "wait_hour",
        "check_status",
        "route",
        "confirm",
    ]
    assert execution.step_runs.get(step_key="confirm").output["would_send"]["url"].endswith("/confirmations")
