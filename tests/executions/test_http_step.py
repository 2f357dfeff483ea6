"""The http_request step refuses SSRF targets with a clear, non-retryable step error."""

import pytest

from executions import runtime
from executions.runtime.sweep import sweep
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


def test_every_retry_of_a_step_sends_the_same_idempotency_key(settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    from tests.fakes import FakeServer

    server = FakeServer()
    server.route("POST", "/refunds", status=503, body={"error": "try later"})
    step = {"action": "http_request", "inputs": {"method": "POST", "url": f"{server.url}/refunds", "json": {"a": 1}}}
    retry = {"retry_max_attempts": 3, "retry_initial_delay": 0.01, "retry_max_delay": 0.02, "retry_jitter": False}
    workflow = workflow_with_steps([{"key": "refund", "name": "Refund", "config": step, **retry}])
    workflow_activate(workflow=workflow)
    execution = execution_start(workflow=workflow, input={})
    sweep_until_finished(execution)
    server.close()
    keys = [r.headers["Idempotency-Key"] for r in server.requests]
    assert keys == [f"faos-{execution.pk}-refund"] * 3  # a vendor that saw an earlier try will not act twice


def sweep_until_finished(execution, seconds: float = 5):
    """Run due steps in this process until the run ends (what a worker and Beat would do)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        execution.refresh_from_db()
        if execution.is_finished:
            return
        runtime.execution_run(execution_id=execution.pk)
        sweep()
        time.sleep(0.02)
    raise AssertionError(f"run #{execution.pk} still {execution.status}")
