"""http_request: credentials typed into a step (Authorization, X-Api-Key, a token parameter) are sent, never kept.

A server that echoes them back, plain or Base64, must not get them into the step run, the run's error, the
execution.failed event or the owner's failure e-mail.
"""

import base64

import pytest
from django.core import mail

from executions.models import Event
from executions.services import execution_start
from tests.factories import workflow_with_steps
from tests.fakes import FakeServer
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)
BEARER, API_KEY, PASSWORD, TOKEN = "bearer-canary-111", "apikey-canary-222", "basic-canary-333", "query-canary-444"
BASIC = base64.b64encode(f"robot:{PASSWORD}".encode()).decode()
CANARIES = (BEARER, API_KEY, PASSWORD, BASIC, TOKEN)


@pytest.fixture
def server(settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    fake = FakeServer()
    yield fake
    fake.close()


def step(server, method="POST") -> dict:
    inputs = {
        "method": method,
        "url": f"{server.url}/echo?api_key={TOKEN}",
        "headers": {"Authorization": f"Bearer {BEARER}", "X-Api-Key": API_KEY, "Proxy-Authorization": f"Basic {BASIC}"},
        "json": {"hello": "world"},
    }
    return {
        "key": "call",
        "name": "Call",
        "retry_max_attempts": 1,
        "config": {"action": "http_request", "inputs": inputs},
    }


def echo() -> dict:
    """What a careless server answers: every credential it was sent, some of them re-encoded."""
    return {"seen": [f"Bearer {BEARER}", API_KEY, f"Basic {BASIC}", TOKEN, base64.b64encode(API_KEY.encode()).decode()]}


def leaks(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary in text]


def test_credential_headers_typed_into_http_request_never_reach_the_run_events_or_emails(server):
    server.route("POST", "/echo", status=500, body=echo())
    workflow = workflow_with_steps([step(server)], on_failure="notify_owner")
    workflow_activate(workflow=workflow)
    execution = execution_start(workflow=workflow, input={})
    execution.refresh_from_db()
    [sent] = server.requests
    assert sent.headers["Authorization"] == f"Bearer {BEARER}" and sent.headers["X-Api-Key"] == API_KEY
    assert sent.path.endswith(f"api_key={TOKEN}")  # the credentials were sent as typed
    run = execution.step_runs.get()
    assert execution.status == "failed" and "HTTP 500" in run.error
    assert leaks(f"{run.input}{run.output}{run.requests}{run.error}{run.error_detail}{execution.error}") == []
    assert run.requests[0]["headers"]["Authorization"] == "[redacted]"
    events = list(Event.objects.filter(type="execution.failed").values_list("data", flat=True))
    assert events and leaks(str(events)) == []
    assert mail.outbox and leaks("".join(f"{m.subject}{m.body}" for m in mail.outbox)) == []


def test_an_echoed_credential_is_redacted_from_the_step_result(server):
    server.route("POST", "/echo", body=echo())
    workflow = workflow_with_steps([step(server)])
    workflow_activate(workflow=workflow)
    execution = execution_start(workflow=workflow, input={})
    execution.refresh_from_db()
    run = execution.step_runs.get()
    assert execution.status == "succeeded" and len(run.output["body"]["seen"]) == 5
    assert leaks(f"{run.input}{run.output}{run.requests}") == []


def test_a_test_run_records_the_request_with_credential_headers_redacted(server):
    workflow = workflow_with_steps([step(server)])
    execution = execution_start(workflow=workflow, input={}, is_test=True)
    execution.refresh_from_db()
    run = execution.step_runs.get()
    would_send = run.output["would_send"]
    assert server.requests == [] and would_send["headers"]["X-Api-Key"] == "[redacted]"
    assert would_send["headers"]["Idempotency-Key"]  # not a credential: shown
    assert leaks(f"{run.input}{run.output}") == []
