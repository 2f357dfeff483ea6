"""Scale-out on Celery with real worker processes: steps land on the worker of their queue, and RabbitMQ works
as the broker (CI starts it; locally `rabbitmq-server -detached`)."""

import shutil
import subprocess
import uuid

import pytest

from executions.models import Execution
from executions.runtime import routing
from executions.services import execution_start
from executions.tasks import run_execution
from faos.celery import app
from tests.e2e.conftest import wait_for
from tests.factories import active_workflow, log_step
from workflows.models import Agent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672"
TIMEOUT = 120  # generous for a loaded 2-core machine; only matters when something is wrong


def classify(key: str) -> dict:
    """An agent step on the offline provider (no network)."""
    config = {
        "agent": "Support Agent",
        "action": "classify",
        "input": {"text": "{{trigger.body}}"},
        "labels": ["low", "critical"],
        "rules": {"critical": ["outage"]},
    }
    return {"key": key, "name": key.title(), "kind": "agent", "config": config}


@pytest.fixture
def support_workflow():
    """Ordinary and model steps taking turns: greet, triage (agent), note, second_opinion (agent), done."""
    Agent.objects.create(name="Support Agent", role="Support", allowed_actions=["classify"])
    return active_workflow(
        [
            log_step("greet", "hello {{trigger.body}}"),
            classify("triage"),
            log_step("note", "{{triage.result.label}}"),
            classify("second_opinion"),
            {
                "key": "done",
                "name": "Done",
                "kind": "complete",
                "config": {"output": {"label": "{{triage.result.label}}"}},
            },
        ]
    )


def succeeded(execution) -> bool:
    execution.refresh_from_db()
    return execution.is_finished


def assert_succeeded_once_each(execution) -> list:
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    assert execution.output == {"label": "critical"}
    runs = list(execution.step_runs.order_by("id"))
    assert [(r.step_key, r.status, r.claims) for r in runs] == [
        (key, "succeeded", 1) for key in ("greet", "triage", "note", "second_opinion", "done")
    ]
    return runs


def test_model_steps_and_other_steps_land_on_the_workers_they_are_routed_to(start_worker, support_workflow):
    steps = start_worker(queues="steps,sweep", name="steps")  # with Beat: the sweep runs here too
    agents = start_worker(queues="agents", beat=False, name="agents")
    execution = execution_start(workflow=support_workflow, input={"body": "outage since noon"})

    wait_for(lambda: succeeded(execution), timeout=TIMEOUT, message="the run to finish")
    runs = assert_succeeded_once_each(execution)
    ran_on = {r.step_key: r.worker.split("@")[0] for r in runs}
    assert ran_on == {
        "greet": steps.node,
        "triage": agents.node,
        "note": steps.node,
        "second_opinion": agents.node,
        "done": steps.node,
    }


@pytest.fixture
def rabbitmq_vhost():
    """A vhost of our own on the local RabbitMQ, so nothing collides with other runs; removed afterwards."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail("rabbitmqctl not found: install RabbitMQ (.ci/run starts it when it is down)")
    vhost = f"faos-e2e-{uuid.uuid4().hex[:8]}"

    def rabbitmqctl(*args):
        done = subprocess.run([ctl, *args], capture_output=True, text=True, timeout=60)
        if done.returncode:
            pytest.fail(
                f"rabbitmqctl {args[0]} failed; is RabbitMQ up (rabbitmq-server -detached)? {done.stderr[-500:]}"
            )
        return done.stdout

    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield vhost, rabbitmqctl
    rabbitmqctl("delete_vhost", vhost)


def test_a_workflow_runs_to_success_over_rabbitmq(rabbitmq_vhost, start_worker, support_workflow, monkeypatch):
    """A worker whose only broker is RabbitMQ runs a whole workflow, agent steps included, a message per step."""
    # (rabbitmq_vhost comes first among the fixtures, so the vhost is deleted after the worker stopped.)
    vhost, rabbitmqctl = rabbitmq_vhost
    url = f"{RABBITMQ}/{vhost}"
    # One step per task: every hand-off between steps is a message through RabbitMQ, on steps or agents.
    worker = start_worker(CELERY_BROKER_URL=url, FAOS_STEPS_PER_TASK="1")
    # This test process keeps its own broker: the first message is published to RabbitMQ by hand below.
    monkeypatch.setattr("executions.services.enqueue", lambda *args, **kwargs: None)
    monkeypatch.setattr("executions.runtime.starts.announce", lambda *args, **kwargs: None)  # (its Redis list)
    execution = execution_start(workflow=support_workflow, input={"body": "outage since noon"})
    with app.connection_for_write(url) as connection:  # the web process's part, over RabbitMQ
        run_execution.apply_async((execution.pk,), connection=connection, queue=routing.execution_queue(execution.pk))

    wait_for(lambda: succeeded(execution), timeout=TIMEOUT, message="the run to finish over RabbitMQ")
    runs = assert_succeeded_once_each(execution)
    assert {r.worker.split("@")[0] for r in runs} == {worker.node}
    queues = rabbitmqctl("list_queues", "-p", vhost, "--quiet", "--no-table-headers", "name").split()
    assert {"steps", "agents", "sweep"} <= set(queues)
