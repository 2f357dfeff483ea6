"""Named queues: messages follow the run's next step (model calls to `agents`, the rest to `steps`), the sweep
and housekeeping go to `sweep`, and a worker on one queue hands a run over instead of running the other kind."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from executions import runtime
from executions.models import Execution, StepRun
from executions.runtime import routing
from executions.runtime.sweep import sweep
from executions.services import execution_start
from faos.celery import app
from integrations import actions
from tests.factories import active_workflow, log_step
from workflows.models import Agent

pytestmark = pytest.mark.django_db(transaction=True)

TRIAGE = {
    "key": "triage",
    "name": "Triage",
    "kind": "agent",
    "config": {
        "agent": "Support Agent",
        "action": "classify",
        "input": {"text": "{{trigger.body}}"},
        "labels": ["low", "critical"],
        "rules": {"critical": ["outage"]},
    },
}


@pytest.fixture
def agent():
    return Agent.objects.create(name="Support Agent", role="Support", allowed_actions=["classify"])


@pytest.fixture
def sent(monkeypatch):
    """Record the run_execution messages instead of sending (or eagerly running) them: [(execution id, queue)]."""
    from executions import tasks

    messages = []

    def apply_async(args, countdown=None, queue=None, **options):
        messages.append((args[0], queue))

    monkeypatch.setattr(tasks.run_execution, "apply_async", apply_async)
    return messages


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_an_agent_step_is_routed_to_the_agents_queue(agent, sent):
    execution = execution_start(workflow=active_workflow([TRIAGE, log_step("after")]), input={"body": "outage"})
    assert sent == [(execution.pk, routing.AGENTS)]
    # A message sent with a countdown is routed by the step that will be due when it arrives (a retry's back-off).
    execution.step_runs.update(wake_at=timezone.now() + timedelta(seconds=5))
    assert routing.execution_queue(execution.pk, countdown=5) == routing.AGENTS


def test_an_action_that_calls_a_model_is_routed_like_an_agent_step(sent, monkeypatch):
    monkeypatch.setattr(actions.get("log"), "calls_model", True)
    execution = execution_start(workflow=active_workflow([log_step("summarise")]), input={})
    assert sent == [(execution.pk, routing.AGENTS)]


def test_ordinary_steps_go_to_the_steps_queue(sent):
    execution = execution_start(workflow=active_workflow([log_step("first"), log_step("second")]), input={})
    assert sent == [(execution.pk, routing.STEPS)]
    assert queue_of("executions.tasks.run_execution") == routing.STEPS  # a message sent without a queue
    assert queue_of("some.other.task") == routing.STEPS  # the default queue


def test_the_sweep_goes_to_the_sweep_queue(agent, sent):
    assert queue_of(settings.CELERY_BEAT_SCHEDULE["faos-sweep"]["task"]) == routing.SWEEP
    assert queue_of("workflows.tasks.fire_schedule") == routing.SWEEP
    assert queue_of("executions.tasks.any_housekeeping") == routing.SWEEP
    # What the sweep re-sends is routed by kind like any other message.
    execution = execution_start(workflow=active_workflow([TRIAGE]), input={"body": "hi"})
    execution.step_runs.update(enqueued_at=None)
    sent.clear()
    assert sweep().kicked == [execution.pk]
    assert sent == [(execution.pk, routing.AGENTS)]


def test_a_worker_lane_follows_the_queues_it_consumes():
    assert routing.worker_lane(["steps", "sweep"]) == routing.STEPS
    assert routing.worker_lane(["agents"]) == routing.AGENTS
    assert routing.worker_lane(["steps", "agents", "sweep"]) is None
    assert routing.worker_lane(["sweep"]) is None  # it was sent a run anyway: run it rather than bounce it
    assert routing.worker_lane() is None  # this process selected no queues: it consumes them all


def test_a_worker_on_one_queue_hands_the_run_over_and_never_runs_or_doubles_the_other_kind(agent, sent):
    workflow = active_workflow([log_step("greet"), TRIAGE, log_step("after")])
    execution = execution_start(workflow=workflow, input={"body": "outage"})
    sent.clear()

    def run(lane):
        return runtime.execution_run(execution_id=execution.pk, worker=f"{lane}-worker", lane=lane)

    assert run(routing.STEPS) == 1 and sent == [(execution.pk, routing.AGENTS)]  # greet, then hand triage over
    assert run(routing.STEPS) == 0  # a duplicate or misrouted message: nothing of its kind, handed over again
    assert run(routing.AGENTS) == 1 and sent[-1] == (execution.pk, routing.STEPS)
    assert run(routing.AGENTS) == 0
    assert run(routing.STEPS) == 1
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    runs = execution.step_runs.order_by("id").values_list("step_key", "worker", "claims", "status")
    assert list(runs) == [
        ("greet", "steps-worker", 1, StepRun.Status.SUCCEEDED),
        ("triage", "agents-worker", 1, StepRun.Status.SUCCEEDED),
        ("after", "steps-worker", 1, StepRun.Status.SUCCEEDED),
    ]


def test_a_single_worker_on_all_queues_runs_everything_as_before(agent):
    assert routing.worker_lane() is None
    workflow = active_workflow([log_step("greet"), TRIAGE, log_step("after", "{{triage.result.label}}")])
    execution = execution_start(workflow=workflow, input={"body": "outage"})  # tasks run eagerly, in-process
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    runs = list(execution.step_runs.order_by("id"))
    assert [(r.step_key, r.claims) for r in runs] == [("greet", 1), ("triage", 1), ("after", 1)]
    assert len({r.worker for r in runs}) == 1  # one task ran all three, agent step included
    assert runs[2].input == {"message": "critical"}
