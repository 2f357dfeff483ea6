"""Dashboard numbers (exact, on SQLite and PostgreSQL), their query budget, and the admin view."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from executions.admin.dashboard import dashboard_view
from executions.dashboard import failing_steps, model_usage, overall_metrics, runs_per_day, workflow_metrics
from executions.models import Execution, StepRun
from tests.factories import UserFactory, WorkflowFactory, workflow_with_steps
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db

LOG = {"key": "a", "name": "A", "config": {"action": "log", "inputs": {"message": "x"}}}


def make_workflow(name: str):
    workflow = workflow_with_steps([LOG], name=name)
    return workflow, workflow_activate(workflow=workflow)


def run(wf, status, duration=None, days_ago=0, **fields):
    """One execution of (workflow, version), created `days_ago` days before now."""
    workflow, version = wf
    execution = Execution.objects.create(
        workflow=workflow, version=version, status=status, duration_ms=duration, **fields
    )
    if days_ago:
        created = timezone.now() - datetime.timedelta(days=days_ago)
        Execution.objects.filter(pk=execution.pk).update(created_at=created)
    return execution


@pytest.fixture
def mix():
    """Alpha: 17 ok, 2 failed, 1 timed out (1..20 s), 3 active (1 stuck), plus an old and a test run.
    Beta: 10 ok at 100 ms. Gamma: nothing."""
    alpha, beta, gamma = make_workflow("Alpha"), make_workflow("Beta"), make_workflow("Gamma")
    statuses = ["succeeded"] * 17 + ["failed", "failed", "timed_out"]
    for index, status in enumerate(statuses):
        run(alpha, status, duration=(index + 1) * 1000)
    past, future = timezone.now() - datetime.timedelta(minutes=5), timezone.now() + datetime.timedelta(hours=1)
    run(alpha, "running", deadline_at=past)
    run(alpha, "pending")
    run(alpha, "waiting", deadline_at=future)
    run(alpha, "failed", duration=99_000, days_ago=40)
    run(alpha, "failed", duration=99_000, is_test=True)
    for _ in range(10):
        run(beta, "succeeded", duration=100)
    return {"alpha": alpha[0], "beta": beta[0], "gamma": gamma[0]}


def by_name(rows):
    return {row["name"]: row for row in rows}


def test_workflow_metrics_exact_numbers(mix):
    rows = by_name(workflow_metrics())
    alpha = rows["Alpha"]
    assert (alpha["runs"], alpha["succeeded"], alpha["failed"], alpha["finished"]) == (23, 17, 3, 20)
    assert alpha["success_rate"] == pytest.approx(85.0)
    assert alpha["error_rate"] == pytest.approx(15.0)  # timed_out counts as an error
    assert alpha["avg_duration_ms"] == pytest.approx(10_500)
    assert alpha["p95_duration_ms"] == pytest.approx(19_050)  # 0.95 * 19 = 18.05 → 19000 + 0.05 * 1000
    assert (alpha["active"], alpha["stuck"]) == (3, 1)
    assert alpha["breaches"] == ["success < 95%", "errors > 5%"]


def test_healthy_and_empty_workflows(mix):
    rows = by_name(workflow_metrics())
    beta, gamma = rows["Beta"], rows["Gamma"]
    assert (beta["success_rate"], beta["error_rate"], beta["breaches"]) == (100.0, 0.0, [])
    assert beta["p95_duration_ms"] == pytest.approx(100)
    assert (gamma["runs"], gamma["active"], gamma["stuck"]) == (0, 0, 0)
    assert gamma["success_rate"] is None and gamma["p95_duration_ms"] is None and gamma["breaches"] == []
    assert list(rows) == ["Alpha", "Beta", "Gamma"]


def test_overall_metrics(mix):
    overall = overall_metrics()
    assert (overall["runs"], overall["succeeded"], overall["failed"], overall["finished"]) == (33, 27, 3, 30)
    assert overall["success_rate"] == pytest.approx(90.0)
    assert overall["error_rate"] == pytest.approx(10.0)
    assert overall["avg_duration_ms"] == pytest.approx(211_000 / 30)
    # 30 sorted values: ten of 100, then 1000..20000; 0.95 * 29 = 27.55 → 18000 + 0.55 * 1000
    assert overall["p95_duration_ms"] == pytest.approx(18_550)
    assert (overall["active"], overall["stuck"]) == (3, 1)


def test_period_and_workflow_filters(mix):
    assert overall_metrics(days=90)["runs"] == 34  # the 40-day-old run is back
    alpha = overall_metrics(workflow_id=mix["alpha"].pk)
    assert (alpha["runs"], alpha["p95_duration_ms"]) == (23, pytest.approx(19_050))
    assert [row["name"] for row in workflow_metrics(workflow_id=mix["beta"].pk)] == ["Beta"]


def test_test_runs_excluded_by_default(mix):
    assert by_name(workflow_metrics())["Alpha"]["failed"] == 3
    assert by_name(workflow_metrics(include_test=True))["Alpha"]["failed"] == 4
    assert overall_metrics(include_test=True)["runs"] == 34


def test_p95_of_a_single_run_and_of_exact_positions():
    wf = make_workflow("Solo")
    run(wf, "succeeded", duration=700)
    assert overall_metrics()["p95_duration_ms"] == pytest.approx(700)
    for duration in range(2, 22):  # 21 values 1..21 s: position 0.95 * 20 = 19 exactly → 20 s
        run(wf, "succeeded", duration=duration * 1000)
    Execution.objects.filter(duration_ms=700).update(duration_ms=1000)
    assert overall_metrics()["p95_duration_ms"] == pytest.approx(20_000)


def test_runs_per_day_fills_every_day():
    wf = make_workflow("Daily")
    run(wf, "succeeded")
    run(wf, "failed")
    run(wf, "cancelled")
    run(wf, "succeeded", days_ago=2)
    run(wf, "timed_out", days_ago=2)
    run(wf, "succeeded", days_ago=10)  # outside a 7-day period
    series = runs_per_day(days=7)
    today = timezone.localdate()
    assert [row["day"] for row in series] == [today - datetime.timedelta(days=6 - i) for i in range(7)]
    counts = [(row["succeeded"], row["failed"], row["other"]) for row in series]
    assert counts == [(0, 0, 0)] * 4 + [(1, 1, 0), (0, 0, 0), (1, 1, 1)]
    assert sum(row["total"] for row in runs_per_day(days=30)) == 6
    assert sum(row["total"] for row in runs_per_day(days=7, workflow_id=wf[0].pk + 999)) == 0


def fail_step(execution, key, error, attempt=1, status="failed"):
    return StepRun.objects.create(
        execution=execution,
        step_key=key,
        step_name=key.title(),
        step_kind="action",
        attempt=attempt,
        status=status,
        error=error,
    )


def test_failing_steps_are_ordered_with_the_latest_error():
    alpha, beta = make_workflow("Alpha"), make_workflow("Beta")
    first, second = run(alpha, "failed"), run(alpha, "failed")
    fail_step(first, "charge", "card declined")
    fail_step(first, "charge", "timeout", attempt=2)
    fail_step(second, "charge", "insufficient funds")
    fail_step(second, "notify", "ok", status="succeeded")
    fail_step(run(beta, "failed"), "notify", "smtp down")
    fail_step(run(beta, "failed", is_test=True), "notify", "test only")
    fail_step(run(beta, "failed", is_test=True), "other", "test only")
    rows = failing_steps()
    assert [(r["step_key"], r["workflow"], r["failures"]) for r in rows] == [
        ("charge", "Alpha", 3),
        ("notify", "Beta", 1),
    ]
    assert rows[0]["last_error"] == "insufficient funds"
    assert rows[1]["step_name"] == "Notify" and rows[1]["last_error"] == "smtp down"
    assert len(failing_steps(limit=1)) == 1


def make_runs(workflows: int, runs: int):
    for index in range(workflows):
        workflow, version = make_workflow(f"Load {Execution.objects.count()}-{index}")
        statuses = ["succeeded", "failed", "timed_out", "running"]
        Execution.objects.bulk_create(
            Execution(workflow=workflow, version=version, status=statuses[i % 4], duration_ms=i * 10)
            for i in range(runs)
        )


def count_queries(function) -> int:
    with CaptureQueriesContext(connection) as captured:
        function()
    return len(captured)


def test_workflow_metrics_query_budget_is_flat(django_assert_max_num_queries):
    make_runs(3, 40)
    with django_assert_max_num_queries(2):
        assert len(workflow_metrics()) == 3
    small = count_queries(workflow_metrics)
    make_runs(10, 40)
    large = count_queries(workflow_metrics)
    assert small == large
    assert count_queries(overall_metrics) <= 2
    assert count_queries(runs_per_day) == 1
    assert count_queries(failing_steps) == 1


def request_as(user, query="days=7"):
    request = RequestFactory().get(f"/admin/dashboard/?{query}")
    request.user = user
    return request


def test_view_shows_cards_and_workflows(mix, admin_user):
    response = dashboard_view(request_as(admin_user))
    html = response.content.decode()
    assert response.status_code == 200
    for title in ("Success rate", "Avg duration", "Error rate", "Active executions"):
        assert title in html
    assert "Alpha" in html and "<svg" in html and "1 stuck" in html
    assert f"?workflow__id__exact={mix['alpha'].pk}" in html


def test_view_filters_by_workflow_and_explains_empty_state(mix, admin_user):
    html = dashboard_view(request_as(admin_user, f"workflow={mix['gamma'].pk}&days=90")).content.decode()
    assert "No runs yet: run a workflow to see numbers here" in html
    assert "Beta</a>" not in html


def test_view_needs_the_company_wide_view_right():
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_execution"))
    with pytest.raises(PermissionDenied):  # every workflow's numbers: the view right on workflows
        dashboard_view(request_as(staff))
    staff.user_permissions.add(Permission.objects.get(codename="view_workflow"))
    staff = type(staff).objects.get(pk=staff.pk)  # reload: permissions are cached per instance
    WorkflowFactory(name="Visible")
    assert "Visible" in dashboard_view(request_as(staff)).content.decode()


def test_the_admin_index_shows_the_week_and_my_pending_approvals(client, admin_user, django_assert_max_num_queries):
    from executions.models import Approval

    wf = make_workflow("Refunds")
    execution = run(wf, "waiting")
    step_run = StepRun.objects.create(execution=execution, step_key="a", step_kind="approval", status="pending")
    Approval.objects.create(execution=execution, step_run=step_run, title="Refund 249.50 to Ann?", amount="249.50")
    run(wf, "succeeded", duration=1200)
    client.force_login(admin_user)
    with django_assert_max_num_queries(12):
        html = client.get("/admin/").content.decode()
    assert 'id="faos-index-summary"' in html and "Active executions" in html and "100.0 %" in html
    assert "Refund 249.50 to Ann?" in html and "Refunds" in html


def test_the_admin_index_summary_is_hidden_from_staff_who_may_not_view_runs(client):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert "faos-index-summary" not in client.get("/admin/").content.decode()


def test_model_usage_is_summed_per_workflow_in_one_query(admin_user):
    from decimal import Decimal

    alpha, beta = make_workflow("Alpha"), make_workflow("Beta")
    for tokens, cost in ((100, "0.0010"), (50, "0.0005")):
        execution = run(alpha, "succeeded", duration=100)
        usage = {"tokens_in": tokens, "tokens_out": tokens, "cost_usd": Decimal(cost)}
        StepRun.objects.create(execution=execution, step_key="a", step_kind="agent", status="succeeded", **usage)
    run(beta, "succeeded", duration=100)
    assert count_queries(lambda: model_usage(days=7)) == 1
    totals = model_usage(days=7)
    assert totals[alpha[0].pk] == {"tokens_in": 150, "tokens_out": 150, "cost_usd": Decimal("0.0015")}
    assert beta[0].pk not in totals
    html = dashboard_view(request_as(admin_user)).content.decode()
    assert "300 tokens · ≈ $0.0015" in html
