"""Pages stay bounded with large data: loop items folded on the run page, counts without joins, capped COUNTs.

Timings live in bench/pages_100k.py; these check the shapes that keep pages fast whatever the row count.
"""

import re

import pytest
from django.db import connection
from django.db.models import JSONField
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from executions.admin import paging
from executions.admin.display import SHOWN_CHARS, pretty_json
from executions.admin.json_head import HEAD_CHARS, SUFFIX
from executions.models import Execution, StepRun
from tests.factories import active_workflow, log_step, loop_run

pytestmark = pytest.mark.django_db


def page(client, url) -> tuple[str, int]:
    """The page's text and its number of queries (after a warm-up request)."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(captured)


def test_a_2000_item_loop_run_page_costs_what_a_200_item_one_does(client, admin_user):
    client.force_login(admin_user)
    (small, small_queries), (big, big_queries), (bigger, bigger_queries) = (
        page(client, reverse("admin:executions_execution_change", args=[loop_run(items).pk]))
        for items in (200, 2000, 4000)
    )
    assert small_queries == big_queries == bigger_queries
    # The run's input lists every item: shown whole for 200 (under SHOWN_CHARS), its first items past that.
    assert len(big) < len(small) + 2 * SHOWN_CHARS, (len(small), len(big))
    assert abs(len(bigger) - len(big)) < 1_000, (len(big), len(bigger))  # only numbers like "4,000" differ
    assert "item-19-said-hi" in big and "item-20-said-hi" not in big
    assert "items 1–20 of 2,000 shown" in big and "<strong>done</strong>" in big  # the step after the loop


def test_the_next_items_and_every_failed_one_are_on_the_run_page(client, admin_user):
    client.force_login(admin_user)
    run = loop_run(500, failed=(345,))
    url = reverse("admin:executions_execution_change", args=[run.pk])
    first, _ = page(client, url)
    assert "item 345 broke" in first and 'href="?items=20"' in first
    second, _ = page(client, url + "?items=20")
    assert "item-20-said-hi" in second and "item-39-said-hi" in second and "item-0-said-hi" not in second
    assert "items 21–40 of 500 shown" in second and 'href="?items=0"' in second
    last, _ = page(client, url + "?items=999999")  # past the end: the last window
    assert "item-499-said-hi" in last and "items 481–500 of 500 shown" in last


def decoded_json_sizes(monkeypatch) -> list[int]:
    """The length of every JSON text a query's rows decode from here on (JSONField.from_db_value)."""
    sizes, original = [], JSONField.from_db_value

    def recording(field, value, expression, connection):
        if isinstance(value, str):
            sizes.append(len(value))
        return original(field, value, expression, connection)

    monkeypatch.setattr(JSONField, "from_db_value", recording)
    return sizes


def test_the_run_page_never_loads_a_big_json_value_whole(client, admin_user, monkeypatch):
    client.force_login(admin_user)
    run = loop_run(2000)  # the run's input and the loop step's output hold every item (11 KB and 58 KB)
    url = reverse("admin:executions_execution_change", args=[run.pk])
    client.get(url)
    sizes = decoded_json_sizes(monkeypatch)
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url).content.decode()
    assert sizes and max(sizes) <= HEAD_CHARS, sorted(sizes)[-3:]  # the rows' small values, no big one
    heads = [q["sql"] for q in captured if SUFFIX in q["sql"]]
    assert len(heads) == 2, heads  # the run's, and the shown step runs': first characters of their JSON
    # What the heads show: the items' start, cut like a whole value, and a note that the value goes on.
    assert "&quot;count&quot;: 2000" in page and "&quot;… more items&quot;" in page
    assert page.count(f"Shortened: more than {HEAD_CHARS:,} characters in all") == 2


def test_the_run_page_shows_a_value_under_the_head_size_as_before(client, admin_user):
    client.force_login(admin_user)
    run = loop_run(200)  # every value is whole in its head: shown exactly as pretty_json shows it
    page = client.get(reverse("admin:executions_execution_change", args=[run.pk])).content.decode()
    step = StepRun.objects.get(execution=run, step_key="each")
    assert str(pretty_json(step.output)) in page and str(pretty_json(run.input)) in page
    assert "Shortened: more than" not in page


def test_a_huge_json_value_is_cut_on_the_run_page():
    cut = pretty_json(list(range(50_000)))
    assert len(cut) < 3_000 and "The API answers the whole value" in cut and "… 49,950 more items" in cut
    assert pretty_json([1, 2]) == '<pre class="faos-json">[\n  1,\n  2\n]</pre>'


def test_the_workflow_list_counts_steps_and_runs_without_joining_them(client, admin_user):
    client.force_login(admin_user)
    workflow = active_workflow([log_step("a"), log_step("b")])
    for status in ("succeeded", "failed", "failed"):
        Execution.objects.create(workflow=workflow, version=workflow.active_version, status=status)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("admin:workflows_workflow_changelist"))
    listing = [q["sql"] for q in captured if q["sql"].startswith('SELECT "workflows_workflow"."id"')]
    assert listing, "the list's query was not seen"
    for sql in listing:
        assert not re.search(r'JOIN "(executions_execution|workflows_step)"', sql), sql
        assert 'GROUP BY "workflows_workflow"."id"' not in sql, sql  # counts are subqueries, one per relation
    row = response.context["cl"].result_list[0]
    assert (row._steps, row._runs, row._failed) == (2, 3, 2)


def test_the_run_list_never_counts_or_scans_every_run(client, admin_user, monkeypatch):
    client.force_login(admin_user)
    monkeypatch.setattr(paging, "COUNT_CAP", 5)
    workflow = active_workflow([log_step("a")])
    for _ in range(8):
        Execution.objects.create(workflow=workflow, version=workflow.active_version, status="succeeded")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("admin:executions_execution_changelist"))
    runs = [q["sql"] for q in captured if '"executions_execution"' in q["sql"]]
    counts = [sql for sql in runs if "COUNT(" in sql]
    assert counts and all("LIMIT 6" in sql for sql in counts), counts  # a COUNT over at most COUNT_CAP + 1 rows
    assert not [sql for sql in runs if "DISTINCT" in sql], "a filter or the date hierarchy read every run"
    assert "5+ executions" in response.content.decode()


def test_the_version_and_approval_lists_count_without_joining(client, admin_user):
    client.force_login(admin_user)
    workflow = active_workflow([log_step("a")])
    Execution.objects.create(workflow=workflow, version=workflow.active_version, status="running")
    for name, table in (
        ("admin:workflows_workflowversion_changelist", "workflows_workflowversion"),
        ("admin:executions_approval_changelist", "executions_approval"),
    ):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse(name))
        assert response.status_code == 200
        # A join that counts groups by the listed row's id; a subquery count groups inside it, by the foreign key.
        grouped = [q["sql"] for q in captured if f'GROUP BY "{table}"."id"' in q["sql"]]
        assert not grouped, grouped
        if "version" in name:
            assert [v._in_flight for v in response.context["cl"].result_list] == [1]


def test_the_dashboard_answers_from_the_cache_until_a_run_starts_or_finishes(client, admin_user):
    client.force_login(admin_user)
    workflow = active_workflow([log_step("a")])
    run = Execution.objects.create(workflow=workflow, version=workflow.active_version, status="running")
    url = reverse("faos-dashboard")

    def view() -> tuple[str, int]:
        with CaptureQueriesContext(connection) as captured:
            html = client.get(url).content.decode()
        return html, len(captured)

    first, computed = view()
    again, cached = view()
    assert cached < computed - 3 and "0 of 0 finished" in again  # five aggregates read from the cache
    Execution.objects.filter(pk=run.pk).update(status="succeeded", finished_at=timezone.now(), duration_ms=5)
    after, recomputed = view()
    assert recomputed == computed and "1 of 1 finished" in after
