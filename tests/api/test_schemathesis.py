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

from executions.models import Approval, Execution
from executions.services import execution_start
from faos.celery import app
from faos.wsgi import application
from integrations.models import Connection
from tests.factories import StepFactory, TriggerFactory, UserFactory, WorkflowFactory, log_step
from tests.fakes import FakeServer
from workflows.models import Agent, WorkflowTemplate
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
    """Rows for every path parameter, made once for the module inside a transaction rolled back at its end."""
    request_started.disconnect(close_old_connections)  # as Django's test client: keep the test's connection
    request_finished.disconnect(close_old_connections)
    eager, app.conf.CELERY_TASK_ALWAYS_EAGER = app.conf.CELERY_TASK_ALWAYS_EAGER, True
    server = FakeServer()
    server.route("GET", "/v1/balance", body={"object": "balance", "available": []})
    with django_db_blocker.unblock(), transaction.atomic():
        yield make_rows(server.url)
        transaction.set_rollback(True)
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
    workflow = WorkflowFactory(name="Lead Routing", owner=boss, sample_input={"score": "hot"})
    StepFactory(workflow=workflow, position=0, **log_step("route"))
    StepFactory(workflow=workflow, position=1, **log_step("notify_rep", "hot lead"))
    manual = TriggerFactory(workflow=workflow, kind="manual", name="Button")
    hook = TriggerFactory(workflow=workflow, kind="webhook", name="Hook", config={"auth": "none"})
    workflow_activate(workflow=workflow, user=boss)
    StepFactory(workflow=workflow, position=2, **log_step("nurture"))
    workflow_snapshot(workflow=workflow, user=boss, note="adds nurture")
    gated = WorkflowFactory(name="Refund Gate", owner=requester)
    approval_step = {"key": "ok", "name": "OK?", "kind": "approval", "config": {"title": "Refund?", "groups": ["Managers"]}}
    StepFactory(workflow=gated, position=0, **approval_step)
    workflow_activate(workflow=gated, user=requester)
    with TestCase.captureOnCommitCallbacks(execute=True):
        execution_start(workflow=workflow, input={"score": "hot"}, user=boss, trigger_kind="api")
        execution_start(workflow=gated, input={}, user=requester, trigger_kind="api")
    connection = Connection.objects.create(service="stripe", credentials={"secret_key": "sk", "base_url": base_url})
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
            "/api/workflows/": [workflow.pk, gated.pk],
            "/api/triggers/": [manual.pk, hook.pk],
            "/api/executions/": list(Execution.objects.values_list("pk", flat=True)),
            "/api/approvals/": list(Approval.objects.values_list("pk", flat=True)),
            "/api/agents/": [agent.pk],
            "/api/connections/": [connection.pk],
            "/api/templates/": [template.slug],
            "/api/connectors/": ["stripe", "slack"],
            "/api/hooks/": [hook.token],
        },
    }


@pytest.fixture
def unthrottled(settings):
    """The fuzzer is not an abuser: no API or failure throttles, no webhook rate; outbound calls to the fake."""
    rates = dict.fromkeys(settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}))
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    settings.FAOS_WEBHOOK_RATE_PER_MINUTE = 1_000_000
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]


def point_at_real_rows(case, ids: dict) -> None:
    """Most generated path parameters become rows that exist, so the operation does real work."""
    for prefix, values in ids.items():
        if not case.operation.path.startswith(prefix):
            continue
        for name, value in (case.path_parameters or {}).items():
            pick = zlib.crc32(repr(value).encode())
            if pick % 4:  # one case in four keeps its generated value: mostly a 404
                case.path_parameters[name] = values[pick % len(values)]


@schema.parametrize()
@BOUNDED
def test_api_answers_within_its_schema(case, rows, unthrottled):
    point_at_real_rows(case, rows["ids"])
    if os.environ.get("ST_COUNT"):  # TEMP
        with open(os.environ["ST_COUNT"], "a") as f:
            f.write(f"{case.method} {case.operation.path}\n")
    # Each case starts from the same rows (a savepoint rolled back after it). What would run after the commit
    # (Celery tasks, eager here) runs before the rollback, so runs really start.
    with transaction.atomic():
        with TestCase.captureOnCommitCallbacks(execute=True):
            case.call_and_validate(headers={"Authorization": f"Token {rows['token']}"}, checks=CHECKS)
        transaction.set_rollback(True)

