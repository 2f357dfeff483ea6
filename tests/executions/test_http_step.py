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
