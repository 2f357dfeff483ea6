"""Agent steps on the offline provider: each action, permission errors, and structured outputs."""

import pytest

from executions.services import execution_start
from tests.factories import workflow_with_steps
from workflows.models import Agent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agent():
    return Agent.objects.create(
        name="Customer Service Agent",
        role="Support",
        allowed_actions=["classify", "score", "extract", "draft_reply", "summarize", "decide", "log"],
    )


def run_step(config, payload):
    workflow = workflow_with_steps(
        [{"key": "think", "name": "Think", "kind": "agent", "config": {"agent": "Customer Service Agent", **config}}]
    )
    execution = execution_start(workflow=workflow, input=payload, is_test=True)
    execution.refresh_from_db()
    return execution, execution.step_runs.get()


URGENCY = {
    "action": "classify",
    "input": {"text": "{{trigger.body}}"},
    "labels": ["low", "medium", "high", "critical"],
    "rules": {"critical": ["outage", "down", "data loss"], "high": ["urgent", "asap"], "medium": ["bug"]},
}


@pytest.mark.parametrize(
    ("body", "label"),
    [
        ("The site is DOWN, total outage", "critical"),
        ("urgent: invoice wrong", "high"),
        ("small bug in export", "medium"),
        ("how do I change my avatar?", "low"),
    ],
)
def test_classify_picks_the_label_whose_rules_match(agent, body, label):
    execution, run = run_step(URGENCY, {"body": body})
    assert execution.status == "succeeded" and run.output["label"] == label
    assert run.output["usage"]["provider"] == "offline"


def test_score_adds_up_criteria_points_against_thresholds(agent):
    config = {
        "action": "score",
        "criteria": [
            {"if": "trigger.company_size >= 100", "points": 40, "reason": "large company"},
            {"if": 'trigger.industry in ["saas", "fintech"]', "points": 30, "reason": "target industry"},
            {"if": "trigger.budget > 10000", "points": 20, "reason": "budget"},
        ],
        "thresholds": {"hot": 70, "warm": 40},
    }
    for lead, label in (
        ({"company_size": 500, "industry": "saas", "budget": 0}, "hot"),
        ({"company_size": 500, "industry": "retail", "budget": 0}, "warm"),
        ({"company_size": 5, "industry": "retail", "budget": 0}, "cold"),
    ):
        _, run = run_step(config, lead)
        assert run.output["label"] == label


def test_extract_draft_summarize_and_decide(agent):
    text = "Hi, I'm Ann (ann@acme.io, +1 555 123 4567). Please refund order 1042. Thanks!"
    _, run = run_step(
        {
            "action": "extract",
            "input": {"text": "{{trigger.body}}"},
            "fields": {"email": "email", "phone": "phone", "order": r"order (\d+)", "vat": "VAT\\w+"},
        },
        {"body": text},
    )
    assert run.output["fields"] == {"email": "ann@acme.io", "phone": "+1 555 123 4567", "order": "1042"}
    assert run.output["missing"] == ["vat"]
    _, run = run_step(
        {
            "action": "draft_reply",
            "template": "Dear {{trigger.name}}, we are on it.",
            "subject": "Re: {{trigger.topic}}",
        },
        {"name": "Ann", "topic": "refund"},
    )
    assert run.output["text"] == "Dear Ann, we are on it." and run.output["subject"] == "Re: refund"
    _, run = run_step(
        {"action": "summarize", "input": {"text": "{{trigger.body}}"}, "sentences": 1}, {"body": "One. Two. Three."}
    )
    assert run.output["summary"] == "One."
    _, run = run_step({"action": "decide", "question": "Refund?", "yes_if": "trigger.amount <= 100"}, {"amount": 50})
    assert run.output["decision"] == "yes"


def test_an_action_the_agent_may_no_longer_use_is_a_permission_error_at_run_time(agent):
    from workflows.services import workflow_activate

    agent.allowed_actions = ["send_email"]
    agent.save()
    workflow = workflow_with_steps(
        [
            {
                "key": "think",
                "name": "Think",
                "kind": "agent",
                "config": {
                    "agent": agent.name,
                    "action": "send_email",
                    "input": {"to": "a@b.co", "subject": "s", "body": "b"},
                },
            }
        ]
    )
    workflow_activate(workflow=workflow)
    agent.allowed_actions = ["classify"]  # permissions changed after activation
    agent.save()
    execution = execution_start(workflow=workflow, input={})
    execution.refresh_from_db()
    run = execution.step_runs.get()
    assert execution.status == "failed"
    assert "permission error: agent 'Customer Service Agent' may not 'send_email'" in run.error


def test_an_allowed_tool_runs_through_the_agent(agent):
    _, run = run_step({"action": "log", "input": {"message": "hello {{trigger.name}}"}}, {"name": "Ann"})
    assert run.output["message"] == "hello Ann"


def test_an_agent_deleted_after_activation_is_named_at_run_time(agent):
    from workflows.services import workflow_activate

    workflow = workflow_with_steps(
        [
            {
                "key": "think",
                "name": "Think",
                "kind": "agent",
                "config": {"agent": agent.name, "action": "classify", "labels": ["a"]},
            }
        ]
    )
    workflow_activate(workflow=workflow)
    agent.delete()
    execution = execution_start(workflow=workflow, input={})
    execution.refresh_from_db()
    assert "no agent named 'Customer Service Agent'" in execution.error


def test_activation_names_a_missing_agent_and_a_forbidden_action(agent):
    from workflows.services import WorkflowInvalid, workflow_activate

    for config, message in (
        ({"agent": "Ghost", "action": "classify", "labels": ["a"]}, "no agent named 'Ghost'"),
        ({"agent": agent.name, "action": "send_email"}, "permission error"),
    ):
        workflow = workflow_with_steps([{"key": "think", "name": "Think", "kind": "agent", "config": config}])
        with pytest.raises(WorkflowInvalid) as exc:
            workflow_activate(workflow=workflow)
        assert message in str(exc.value.problems[0])


def test_model_usage_is_recorded_per_step_and_summed_per_execution_and_workflow(agent):
    from decimal import Decimal

    from executions.models import Execution, StepRun

    execution, run = run_step(URGENCY, {"body": "site down"})
    StepRun.objects.filter(pk=run.pk).update(tokens_in=120, tokens_out=30, cost_usd=Decimal("0.0004"))
    execution_start(workflow=execution.workflow, input={"body": "bug"}, is_test=True)
    StepRun.objects.filter(execution__workflow=execution.workflow).exclude(pk=run.pk).update(
        tokens_in=80, tokens_out=20
    )
    assert execution.step_runs.usage() == {"tokens_in": 120, "tokens_out": 30, "cost_usd": Decimal("0.0004")}
    totals = Execution.objects.filter(workflow=execution.workflow).usage()
    assert (totals["tokens_in"], totals["tokens_out"]) == (200, 50)
