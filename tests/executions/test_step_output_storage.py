"""What a step produces is stored as JSON: a value PostgreSQL would refuse fails the step, not the worker."""

import pytest

from executions.services import execution_start
from tests.factories import active_workflow

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_set_step_computing_infinity_fails_the_run_instead_of_the_worker():
    workflow = active_workflow(
        [{"key": "ratio", "name": "Ratio", "config": {"action": "set", "inputs": {"r": "{{ 1.0 / 0.0 }}"}}}]
    )
    execution = execution_start(workflow=workflow, input={})  # PostgreSQL refuses Infinity in a JSON column
    execution.refresh_from_db()
    assert execution.status == "failed" and "JSON has no NaN or Infinity" in execution.error
    assert execution.variables == {}
