"""/metrics: a bearer token, numbers straight from the rows, and a fixed number of queries per scrape."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from executions.models import Approval, StepRun
from executions.services import execution_start
from ops.models import Counter, counter_add, heartbeat
from tests.factories import TriggerFactory, active_workflow, log_step

pytestmark = pytest.mark.django_db(transaction=True)  # eager tasks run on commit
TOKEN = "metrics-token-for-tests-7c1d"


@pytest.fixture
def scrape(client, settings):
    settings.FAOS_METRICS_TOKEN = TOKEN

    def get() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.content.decode()

    return get


def value(text: str, name: str, **labels) -> float:
    """The sample `name{labels…}` (every label given must match; others may be present)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            return float(match.group(2))
    raise AssertionError(f"{name}{labels} not in:\n{text}")


def test_metrics_need_the_token(client, settings):
    settings.FAOS_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404  # not switched on
    settings.FAOS_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 401  # the scheme is part of it
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_metrics_refuse_a_token_guesser_for_a_while(client, settings, throttle_rates):
    settings.FAOS_METRICS_TOKEN = TOKEN
    throttle_rates(token_failures="2/minute")
    assert [client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {n}").status_code for n in range(3)] == [401, 401, 429]
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 429


def test_metrics_are_denied_to_a_signed_in_superuser_without_the_token(client, admin_user, settings):
    settings.FAOS_METRICS_TOKEN = TOKEN
    client.force_login(admin_user)
    assert client.get("/metrics").status_code == 401


def test_a_run_just_made_shows_in_metrics(scrape):
    workflow = active_workflow([log_step("greet"), log_step("bye")], name="Greeter")
    execution = execution_start(workflow=workflow, input={})
    execution.refresh_from_db()
    assert execution.status == "succeeded"
    text = scrape()
    assert value(text, "faos_runs", workflow_id=workflow.pk, workflow="Greeter", status="succeeded") == 1
    assert value(text, "faos_recent_step_duration_seconds_bucket", kind="action", le="+Inf") == 2
    assert value(text, "faos_recent_step_duration_seconds_gcount", kind="action") == 2
    assert value(text, "faos_runs_waiting") == 0


def test_backlog_gauges_show_queue_lag_timers_and_overdue_approvals(scrape):
    workflow = active_workflow([log_step("greet")], name="Backlog")
    execution = execution_start(workflow=workflow, input={})
    now = timezone.now()
    runnable = StepRun.objects.create(execution=execution, step_key="a", step_kind="action")
    StepRun.objects.filter(pk=runnable.pk).update(created_at=now - timedelta(seconds=90))
    StepRun.objects.create(execution=execution, step_key="b", step_kind="delay", wake_at=now - timedelta(seconds=5))
    later = StepRun.objects.create(
        execution=execution, step_key="c", step_kind="delay", wake_at=now + timedelta(hours=1)
    )
    Approval.objects.create(execution=execution, step_run=later, title="Pay?", due_at=now - timedelta(minutes=1))
    text = scrape()
    assert value(text, "faos_steps_runnable") == 2
    assert 90 <= value(text, "faos_queue_lag_seconds") < 120
    assert value(text, "faos_timers_due") == 1 and value(text, "faos_timers_set") == 1
    assert value(text, "faos_approvals_pending") == 1 and value(text, "faos_approvals_overdue") == 1


def test_model_tokens_and_cost_of_recent_steps_show_by_workflow(scrape):
    workflow = active_workflow([log_step("greet")], name="Writer")
    execution = execution_start(workflow=workflow, input={})
    StepRun.objects.filter(execution=execution).update(tokens_in=120, tokens_out=30, cost_usd=Decimal("0.0042"))
    text = scrape()
    assert value(text, "faos_recent_model_tokens", workflow="Writer", direction="in") == 120
    assert value(text, "faos_recent_model_tokens", workflow="Writer", direction="out") == 30
    assert value(text, "faos_recent_model_cost_usd", workflow="Writer") == pytest.approx(0.0042)


def test_webhook_deliveries_are_counted_by_answer_code(scrape):
    trigger = TriggerFactory(workflow=active_workflow([log_step("greet")]), kind="webhook", config={"auth": "none"})
    hooks = APIClient()
    assert hooks.post(f"/api/hooks/{trigger.token}/", {}, format="json").status_code == 202
    assert hooks.post(f"/api/hooks/{trigger.token}/", {}, format="json").status_code == 202
    assert hooks.post("/api/hooks/nope/", {}, format="json").status_code == 404
    text = scrape()
    assert value(text, "faos_webhook_deliveries_total", code="202") == 2
    assert value(text, "faos_webhook_deliveries_total", code="404") == 1


def test_the_sweep_age_shows(scrape):
    heartbeat("sweep", at=timezone.now() - timedelta(seconds=12))
    assert 12 <= value(scrape(), "faos_sweep_age_seconds") < 30


def test_a_scrape_costs_a_fixed_number_of_queries(scrape, django_assert_max_num_queries, django_assert_num_queries):
    """One query per family (runs, step queue, recent steps, approvals, webhook counters, sweep heartbeat)."""
    with django_assert_num_queries(6):
        scrape()
    for n in range(5):
        workflow = active_workflow([log_step("greet"), log_step("bye")], name=f"Flow {n}")
        for _ in range(3):
            execution_start(workflow=workflow, input={})
    with django_assert_max_num_queries(6):
        text = scrape()
    assert value(text, "faos_runs", workflow="Flow 4", status="succeeded") == 3


def test_a_counter_adds_in_one_statement_that_commits_without_waiting_for_the_disk(django_assert_num_queries):
    from django.db import connection

    with django_assert_num_queries(1) as captured:  # autocommit: no BEGIN, SET LOCAL or COMMIT round trips
        counter_add("webhook_deliveries", "202")
    counter_add("webhook_deliveries", "202", 2)
    assert Counter.objects.get(name="webhook_deliveries", label="202").value == 3
    if connection.vendor == "postgresql":
        assert "set_config('synchronous_commit', 'off', true)" in captured.captured_queries[0]["sql"]
