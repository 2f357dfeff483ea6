"""Property-based API test: every operation of /api/schema/, fuzzed in-process, never a 500 or an off-schema answer.

Bounded for `make test` (a fixed seed, a few examples per operation). FAOS_SCHEMATHESIS_DEEP=1 adds schemathesis'
coverage phase (boundary values, missing and unexpected fields, odd methods) and more examples: minutes, not seconds.
"""

import os
import zlib

import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import TestCase
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from executions.models import Approval, Execution, StepRun
from executions.services import execution_start
from faos.celery import app
from faos.wsgi import application
from integrations.models import Connection
from tests.factories import StepFactory, TriggerFactory, UserFactory, WorkflowFactory, log_step
from tests.fakes import FakeServer
from workflows.activation import activation_start
from workflows.models import Agent, Workflow, WorkflowTemplate
from workflows.services import workflow_activate, workflow_snapshot

DEEP = bool(os.environ.get("FAOS_SCHEMATHESIS_DEEP"))
# The schema is served by the app itself (no network). Every operation in it becomes one test item; the schema
# has no HTML pages (docs and redoc are not operations of it), so nothing needs to be left out.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    application,
    config=schemathesis.Config.from_dict({"seed": 20261201, "phases": {"coverage": {"enabled": DEEP}}}),
)

pytestmark = pytest.mark.django_db
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The same cases on every run: derandomized, no example database, no deadline on a busy machine.
BOUNDED = settings(
    max_examples=100 if DEEP else 12,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def rows(django_db_setup, django_db_blocker):
    """Rows for the path parameters, made once for the module in a transaction that is rolled back at its end."""
    request_started.disconnect(close_old_connections)  # as Django's test client: keep the test's connection
    request_finished.disconnect(close_old_connections)
    eager, app.conf.CELERY_TASK_ALWAYS_EAGER = app.conf.CELERY_TASK_ALWAYS_EAGER, True
    server = FakeServer()
    server.route("GET", "/v1/balance", body={"object": "balance", "available": []})
    try:
        with django_db_blocker.unblock(), transaction.atomic():
            yield make_rows(server.url)
            transaction.set_rollback(True)
    finally:
        server.close()
        app.conf.CELERY_TASK_ALWAYS_EAGER = eager
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def make_rows(base_url: str) -> dict:
    """A superuser's token; an active workflow with steps, triggers, two versions and a run; an approval; the rest."""
    boss = UserFactory(username="boss", is_superuser=True, is_staff=True)
    Group.objects.get_or_create(name="Managers")[0].user_set.add(boss)
    requester = UserFactory(username="ops")
    requester.groups.add(Group.objects.get(name="Workflow editors"))
    delegate = UserFactory(username="maria")
    delegate.groups.add(Group.objects.get(name="Managers"), Group.objects.get(name="Approvers"))
    workflow = WorkflowFactory(name="Lead Routing", owner=boss, sample_input={"score": "hot"})
    StepFactory(workflow=workflow, position=0, **log_step("route"))
    StepFactory(workflow=workflow, position=1, **log_step("notify_rep", "hot lead"))
    manual = TriggerFactory(workflow=workflow, kind="manual", name="Button")
    hook = TriggerFactory(workflow=workflow, kind="webhook", name="Hook", config={"auth": "none"})
    workflow_activate(workflow=workflow, user=boss)
    StepFactory(workflow=workflow, position=2, **log_step("nurture"))
    workflow_snapshot(workflow=workflow, user=boss, note="adds nurture")
    gated = WorkflowFactory(name="Refund Gate", owner=requester)
    approval_step = {
        "key": "ok",
        "name": "OK?",
        "kind": "approval",
        "config": {"title": "Refund?", "groups": ["Managers"]},
    }
    StepFactory(workflow=gated, position=0, **approval_step)
    workflow_activate(workflow=gated, user=requester)
    retired = WorkflowFactory(name="Old Intake", owner=boss)
    StepFactory(workflow=retired, position=0, **log_step("intake"))
    workflow_activate(workflow=retired, user=boss)
    payouts = WorkflowFactory(name="Payouts", owner=requester, activation_review=True)
    StepFactory(workflow=payouts, position=0, **log_step("pay"))
    activation = activation_start(workflow=payouts, user=requester)  # boss, a second editor, may approve it
    with TestCase.captureOnCommitCallbacks(execute=True):
        execution_start(workflow=workflow, input={"score": "hot"}, user=boss, trigger_kind="api")
        failed = execution_start(workflow=retired, input={}, user=boss, trigger_kind="api")
    Execution.objects.filter(pk=failed.pk).update(status=Execution.Status.FAILED, error="boom", error_step="intake")
    Workflow.objects.filter(pk=retired.pk).update(status=Workflow.Status.PAUSED)  # deletable: paused, runs over
    waiting_approval(gated, requester)
    connection = Connection.objects.create(
        service="stripe", name="live", credentials={"secret_key": "sk", "base_url": base_url}
    )
    agent = Agent.objects.create(name="Triage", allowed_actions=["classify"])
    template = WorkflowTemplate.objects.create(
        slug="lead-routing",
        name="Lead Routing",
        category="Sales",
        description="Route leads.",
        definition={"name": "Lead Routing", "steps": [log_step("route")], "triggers": [{"kind": "manual"}]},
        checksum="-",
    )
    return {
        "token": Token.objects.create(user=boss).key,
        "ids": {
            "/api/workflows/": [workflow.pk, gated.pk, retired.pk],
            "/api/triggers/": [manual.pk, hook.pk],
            "/api/executions/": list(Execution.objects.values_list("pk", flat=True)),
            "/api/approvals/": list(Approval.objects.values_list("pk", flat=True)),
            "/api/activations/": [activation.pk],
            "/api/agents/": [agent.pk],
            "/api/connections/": [connection.pk],
            "/api/templates/": [template.slug],
            "/api/connectors/": ["stripe", "slack"],
            "/api/hooks/": [hook.token],
        },
        "query": {"from": [1, 2], "to": [1, 2], "version": [1, 2], "page": [1]},
        "body": {
            "workflow": [workflow.pk, gated.pk],
            "service": ["stripe"],
            "credentials": [{"secret_key": "sk_test_fuzz"}],
            "allowed_groups": [[], ["Workflow editors"]],
            "to": [delegate.username],
        },
    }


def waiting_approval(workflow, requester) -> Approval:
    """A run parked on its approval step, made directly: steps run in a thread of their own, on a connection
    that cannot see this module's uncommitted rows."""
    execution = Execution.objects.create(
        workflow=workflow, version=workflow.active_version, status=Execution.Status.WAITING, started_by=requester
    )
    step_run = StepRun.objects.create(execution=execution, step_key="ok", step_kind="approval", waiting_for="approval")
    approval = Approval.objects.create(execution=execution, step_run=step_run, title="Refund?", requested_by=requester)
    approval.approver_groups.add(Group.objects.get(name="Managers"))
    return approval


@pytest.fixture
def unthrottled(settings):
    """The fuzzer is not an abuser: no API or failure throttles, no webhook rate; outbound calls to the fake."""
    rates = dict.fromkeys(settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}))
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    settings.FAOS_WEBHOOK_RATE_PER_MINUTE = 1_000_000
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]


def point_at_real_rows(case, rows: dict) -> None:
    """Most generated ids, version numbers and names become ones that exist, so the operation does real work."""
    for prefix, values in rows["ids"].items():
        if case.operation.path.startswith(prefix):
            swap(case.path_parameters, dict.fromkeys(case.path_parameters or {}, values))
    swap(case.query, rows["query"])
    swap(case.body, rows["body"])


def swap(params, real: dict) -> None:
    """Replace three generated values in four by a real one, chosen from the generated value (deterministic)."""
    if not isinstance(params, dict):
        return
    for name in params.keys() & real.keys():
        pick = zlib.crc32(repr(params[name]).encode())
        if pick % 4:  # the fourth keeps its generated value: mostly a 404 or a 400
            params[name] = real[name][pick % len(real[name])]


@schema.parametrize()
@BOUNDED
def test_api_answers_within_its_schema(case, rows, unthrottled):
    point_at_real_rows(case, rows)
    # Each case starts from the same rows (a savepoint rolled back after it). What would run after the commit
    # (Celery tasks, eager here) runs before the rollback, so runs really start.
    with transaction.atomic():
        with TestCase.captureOnCommitCallbacks(execute=True):
            case.call_and_validate(headers={"Authorization": f"Token {rows['token']}"}, checks=CHECKS)
        transaction.set_rollback(True)
