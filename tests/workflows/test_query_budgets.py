"""Admin list pages make the same number of queries whatever the row count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from executions.models import Execution, StepRun
from tests.factories import log_step, loop_run, workflow_with_steps
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db


def make_runs(count: int):
    workflow = workflow_with_steps([{"key": "a", "name": "A", "config": {"action": "log", "inputs": {"message": "x"}}}])
    version = workflow_activate(workflow=workflow)
    for _ in range(count):
        run = Execution.objects.create(workflow=workflow, version=version, status="succeeded")
        StepRun.objects.create(execution=run, step_key="a", step_kind="action", status="succeeded")


def queries(client, url) -> int:
    client.get(url)  # warm per-process caches (content types, permissions) so only the page's own queries count
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "name",
    [
        "admin:executions_execution_changelist",
        "admin:workflows_workflow_changelist",
        "admin:executions_approval_changelist",
        "admin:workflows_workflowversion_changelist",
    ],
)
def test_list_pages_make_a_flat_number_of_queries(client, admin_user, name):
    client.force_login(admin_user)
    make_runs(3)
    small = queries(client, reverse(name))
    for _ in range(5):
        make_runs(10)
    assert queries(client, reverse(name)) == small


def test_the_execution_page_makes_a_flat_number_of_queries(client, admin_user):
    client.force_login(admin_user)
    make_runs(1)
    run = Execution.objects.get()
    small = queries(client, reverse("admin:executions_execution_change", args=[run.pk]))
    for i in range(30):
        StepRun.objects.create(execution=run, step_key=f"s{i}", step_kind="action", status="succeeded")
    assert queries(client, reverse("admin:executions_execution_change", args=[run.pk])) == small


def test_the_dashboard_is_linked_from_every_admin_page_and_stays_flat(client, admin_user):
    client.force_login(admin_user)
    make_runs(3)
    assert reverse("faos-dashboard") in client.get(reverse("admin:index")).content.decode()
    small = queries(client, reverse("faos-dashboard"))
    for _ in range(5):
        make_runs(10)
    page = client.get(reverse("faos-dashboard")).content.decode()
    assert "Success rate" in page and queries(client, reverse("faos-dashboard")) == small


def test_the_pages_bench_measures_stay_within_their_query_budgets(client, admin_user):
    """The workflow page, a loop run's page and the approvals list (bench/pages_100k.py times them at 100,000 runs):
    each a fixed number of queries, whatever the steps, items and rows behind it."""
    client.force_login(admin_user)
    workflow = workflow_with_steps([log_step(f"s{i}") for i in range(30)])
    step = workflow.steps.order_by("position").first()
    budgets = {
        reverse("admin:workflows_workflow_change", args=[workflow.pk]): 13,
        reverse("admin:workflows_workflow_stepforms", args=[workflow.pk]) + f"?rows=0.{step.pk}": 7,
        reverse("admin:executions_execution_change", args=[loop_run(300).pk]): 13,
        reverse("admin:executions_approval_changelist"): 9,
    }
    spent = {url: queries(client, url) for url in budgets}
    assert all(spent[url] <= budget for url, budget in budgets.items()), spent
