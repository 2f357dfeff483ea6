"""A run's step runs over the API: the detail embeds the first page and links the rest; /steps/ pages through them
with filters, at the same cost whatever the item count; someone who may not see the run gets a 404."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from executions.api.serializers import EMBEDDED_STEP_RUNS
from executions.models import Execution, StepRun
from tests.factories import EditorFactory, UserFactory, active_workflow, log_step

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    client = APIClient()
    client.force_authenticate(EditorFactory(username="ops", is_superuser=True))
    return client


def loop_run(items: int, failed: tuple[int, ...] = ()) -> Execution:
    """A run with a loop over `items` items: the loop step, one step run per item, a last step."""
    each = {"key": "each", "name": "Each", "kind": "loop", "config": {"items": "{{trigger.items}}", "steps": ["hi"]}}
    workflow = active_workflow([each, log_step("hi"), log_step("done")])
    run = Execution.objects.create(workflow=workflow, version=workflow.active_version, status="succeeded")
    StepRun.objects.create(execution=run, step_key="each", step_kind="loop", status="succeeded", output={"n": items})
    StepRun.objects.bulk_create(
        StepRun(
            execution=run,
            step_key="hi",
            step_kind="action",
            scope=f"each[{i}]",
            status="failed" if i in failed else "succeeded",
            output={"message": f"hi {i}"},
        )
        for i in range(items)
    )
    StepRun.objects.create(execution=run, step_key="done", step_kind="action", status="succeeded")
    return run


def test_the_detail_embeds_the_first_step_runs_and_links_the_rest(api):
    run = loop_run(250)
    detail = api.get(f"/api/executions/{run.pk}/").json()
    assert len(detail["step_runs"]) == EMBEDDED_STEP_RUNS == 100
    assert detail["step_runs"][0]["step_key"] == "each" and detail["step_runs"][1]["scope"] == "each[0]"
    assert detail["step_runs_count"] == 252
    assert detail["step_runs_url"] == f"http://testserver/api/executions/{run.pk}/steps/"
    assert detail["step_runs_next"] == f"http://testserver/api/executions/{run.pk}/steps/?page=2"

    second = api.get(detail["step_runs_next"]).json()
    assert second["count"] == 252 and second["results"][0]["scope"] == "each[99]"  # right after the embedded ones
    last = api.get(second["next"]).json()
    assert last["next"] is None and last["results"][-1]["step_key"] == "done"


def test_a_short_run_embeds_every_step_run_and_has_no_next_page(api):
    run = loop_run(3)
    detail = api.get(f"/api/executions/{run.pk}/").json()
    assert [s["step_key"] for s in detail["step_runs"]] == ["each", "hi", "hi", "hi", "done"]
    assert detail["step_runs_count"] == 5 and detail["step_runs_next"] is None


def test_step_runs_filter_by_status_step_scope_and_level(api):
    run = loop_run(40, failed=(7, 31))
    url = f"/api/executions/{run.pk}/steps/"

    def scopes(**params) -> list[str]:
        response = api.get(url, params)
        assert response.status_code == 200, response.json()
        return [(s["step_key"], s["scope"]) for s in response.json()["results"]]

    assert scopes(status="failed") == [("hi", "each[7]"), ("hi", "each[31]")]
    assert scopes(scope="each[12]") == [("hi", "each[12]")]
    assert len(scopes(scope_prefix="each[", page_size=500)) == 40
    assert scopes(top_level="true") == [("each", ""), ("done", "")]
    assert scopes(step="done") == [("done", "")]
    assert api.get(url, {"page_size": 10}).json()["next"].endswith("page=2&page_size=10")
    bad = api.get(url, {"status": "exploded"})
    assert bad.status_code == 400 and "status" in bad.json()
    assert api.get(url, {"page": 99}).status_code == 404


def test_pages_of_step_runs_cost_the_same_queries_for_200_or_2000_items(api):
    small, large = loop_run(200), loop_run(2000)

    def cost(url: str) -> int:
        api.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert api.get(url).status_code == 200
        return len(captured)

    for path in (
        "/api/executions/{}/",
        "/api/executions/{}/steps/",
        "/api/executions/{}/steps/?page=2&status=succeeded",
    ):
        assert cost(path.format(small.pk)) == cost(path.format(large.pk)), path
    size = len(api.get(f"/api/executions/{large.pk}/").content)
    assert size < 40_000, size  # 100 step runs whatever the item count


def test_someone_who_may_not_see_the_run_gets_a_404(api):
    run = loop_run(2)
    stranger = APIClient()
    stranger.force_authenticate(UserFactory(username="stranger", is_staff=True))  # no role, not the owner
    assert stranger.get(f"/api/executions/{run.pk}/steps/").status_code == 404
