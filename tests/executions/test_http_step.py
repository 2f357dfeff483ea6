"""The http_request step refuses SSRF targets with a clear, non-retryable step error."""

import pytest

from executions.services import execution_start
from tests.factories import workflow_with_steps
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_http_step_to_the_metadata_address_fails_without_retry(settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = []
    workflow = workflow_with_steps(
        [
            {
                "key": "steal",
                "name": "Fetch Metadata",
                "config": {"action": "http_request", "inputs": {"url": "http://169.254.169.254/latest/meta-data/"}},
            }
        ]
    )
    workflow_activate(workflow=workflow)
    execution = execution_start(workflow=workflow, input={})
    execution.refresh_from_db()
    [run] = execution.step_runs.all()
    assert execution.status == "failed" and run.retryable is False
    assert "169.254.169.254" in run.error and "link-local" in run.error


def test_a_fast_forwarded_test_run_skips_retry_back_offs(settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    from tests.fakes import FakeServer

    server = FakeServer()
    server.route("GET", "/status", status=503, body={"error": "busy"})
    step = {"action": "http_request", "inputs": {"url": f"{server.url}/status"}}
    retry = {"retry_max_attempts": 3, "retry_initial_delay": 3600, "retry_max_delay": 7200}
    workflow = workflow_with_steps([{"key": "poll", "name": "Poll Bank", "config": step, **retry}])
    meta = {"fast_forward": True, "send_reads": True}
    execution = execution_start(workflow=workflow, input={}, is_test=True, trigger_meta=meta)
    execution.refresh_from_db()
    server.close()
    attempts = list(execution.step_runs.order_by("attempt").values_list("attempt", "status"))
    assert execution.status == "failed" and attempts == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert len(server.requests) == 3
