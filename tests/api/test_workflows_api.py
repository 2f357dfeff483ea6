"""The REST API: build a workflow as one definition, validate, activate, run, export/import, scoping, schema."""

import pytest
import yaml
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from executions.models import Approval, Execution
from tests.factories import EditorFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

DEFINITION = {
    "name": "Lead Routing",
    "timeout_seconds": 120,
    "steps": [
        {
            "key": "route",
            "name": "Route Lead",
            "kind": "switch",
            "config": {"value": "{{trigger.score}}"},
            "branches": {"hot": "notify_rep", "default": "nurture"},
        },
        {
            "key": "notify_rep",
            "name": "Notify Rep",
            "config": {"action": "log", "input": {"message": "hot lead"}},
            "next": "end",
        },
        {"key": "nurture", "name": "Add To Nurture", "config": {"action": "log", "input": {"message": "nurture"}}},
    ],
    "triggers": [{"kind": "manual", "name": "Button"}],
}


@pytest.fixture
def api():
    user = EditorFactory(username="ops")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    client.user = user
    return client


def create(api, definition=DEFINITION):
    response = api.post("/api/workflows/", definition, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_validate_activate_and_run_through_the_api(api):
    workflow = create(api)
    assert [s["key"] for s in workflow["steps"]] == ["route", "notify_rep", "nurture"] and workflow["status"] == "draft"
    assert api.post(f"/api/workflows/{workflow['id']}/validate/").json() == {
        "valid": True,
        "problems": [],
        "warnings": [],
    }
    activated = api.post(f"/api/workflows/{workflow['id']}/activate/")
    assert activated.status_code == 200 and activated.json()["number"] == 1
    run = api.post(f"/api/workflows/{workflow['id']}/run/", {"input": {"score": "hot"}}, format="json")
    assert run.status_code == 202
    detail = api.get(run.json()["status_url"]).json()
    assert detail["status"] == "succeeded"
    assert [s["step_key"] for s in detail["step_runs"]] == ["route", "notify_rep"]


def test_bad_input_gets_a_4xx_that_names_the_field_and_nothing_is_created(api):
    bad = {**DEFINITION, "steps": [{**DEFINITION["steps"][0], "kind": "teleport"}]}
    response = api.post("/api/workflows/", bad, format="json")
    assert response.status_code == 400 and "Unknown step kind 'teleport'" in str(response.json()["steps"])
    assert api.get("/api/workflows/").json()["count"] == 0
    workflow = create(api, {**DEFINITION, "steps": [{**DEFINITION["steps"][1], "next": "ghost"}]})
    problems = api.post(f"/api/workflows/{workflow['id']}/activate/")
    assert problems.status_code == 400
    assert problems.json()["problems"] == [
        {"step": "notify_rep", "field": "next", "message": "goes to 'ghost', which is not a step of this workflow"}
    ]
    run = api.post(f"/api/workflows/{workflow['id']}/run/", {"input": [1]}, format="json")
    assert run.status_code == 400 and "input" in run.json()
    schedule = api.post(
        "/api/workflows/",
        {**DEFINITION, "triggers": [{"kind": "schedule", "config": {"cron": "61 * * * *"}}]},
        format="json",
    )
    assert schedule.status_code == 400 and "config.cron" in str(schedule.json())


def test_export_then_import_round_trips_losslessly(api):
    workflow = create(api)
    exported = api.get(f"/api/workflows/{workflow['id']}/export/")
    assert exported["Content-Type"].startswith("application/yaml")
    text = exported.content.decode()
    imported = api.post("/api/workflows/import/", text, content_type="application/yaml")
    assert imported.status_code == 201
    again = api.get(f"/api/workflows/{imported.json()['id']}/export/").content.decode()
    assert yaml.safe_load(again) == yaml.safe_load(text)
    broken = api.post("/api/workflows/import/", "steps: [unclosed", content_type="application/yaml")
    assert broken.status_code == 400 and "line" in broken.json()["definition"][0]


def test_versions_diff_and_rollback(api):
    workflow = create(api)
    wid = workflow["id"]
    api.post(f"/api/workflows/{wid}/activate/")
    steps = [dict(s) for s in DEFINITION["steps"]]
    steps[2]["config"] = {"action": "log", "input": {"message": "nurture v2"}}
    api.patch(
        f"/api/workflows/{wid}/",
        {"steps": steps + [{"key": "extra", "name": "Extra", "kind": "complete"}]},
        format="json",
    )
    api.post(f"/api/workflows/{wid}/activate/")
    assert [v["number"] for v in api.get(f"/api/workflows/{wid}/versions/").json()] == [2, 1]
    diff = api.get(f"/api/workflows/{wid}/diff/?from=1&to=2").json()
    assert diff["added"] == ["extra"] and diff["changed"]["nurture"]["config.input.message"] == {
        "from": "nurture",
        "to": "nurture v2",
    }
    rollback = api.post(f"/api/workflows/{wid}/activate/?version=1")
    assert rollback.json()["number"] == 1 and api.get(f"/api/workflows/{wid}/").json()["active_version"] == 1


def test_another_users_workflow_is_404(api):
    workflow = create(api)
    other = APIClient()
    other.force_authenticate(UserFactory(username="stranger"))
    assert other.get(f"/api/workflows/{workflow['id']}/").status_code == 404
    # Without the run right the answer is 403 before any lookup: it says nothing about the workflow.
    assert other.post(f"/api/workflows/{workflow['id']}/run/", {"input": {}}, format="json").status_code == 403
    assert other.get("/api/workflows/").json()["count"] == 0
    assert APIClient().get("/api/workflows/").status_code in (401, 403)


def test_duplicate_and_deactivate(api):
    workflow = create(api)
    copy = api.post(f"/api/workflows/{workflow['id']}/duplicate/").json()
    assert copy["name"] == "Lead Routing (copy)" and len(copy["steps"]) == 3
    api.post(f"/api/workflows/{workflow['id']}/activate/")
    assert api.post(f"/api/workflows/{workflow['id']}/deactivate/").json()["status"] == "paused"


def test_executions_filter_cancel_and_retry(api):
    workflow = create(
        api, {**DEFINITION, "steps": [{"key": "wait", "name": "Wait", "kind": "wait", "config": {"duration": "1h"}}]}
    )
    api.post(f"/api/workflows/{workflow['id']}/activate/")
    run = api.post(f"/api/workflows/{workflow['id']}/run/", {"input": {}}, format="json").json()
    assert api.get("/api/executions/?status=waiting").json()["count"] == 1
    cancelled = api.post(f"/api/executions/{run['id']}/cancel/")
    assert cancelled.json()["status"] == "cancelled"
    assert api.post(f"/api/executions/{run['id']}/cancel/").status_code == 409
    assert api.post(f"/api/executions/{run['id']}/retry/").status_code == 409
    assert api.post(f"/api/executions/{run['id']}/rerun/").status_code == 202


def test_approvals_api_lists_mine_and_decides_once(api, django_user_model):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="Managers")
    manager = UserFactory(username="maria")
    group.user_set.add(manager)
    workflow = create(
        api,
        {
            **DEFINITION,
            "steps": [
                {"key": "ok", "name": "OK?", "kind": "approval", "config": {"title": "Go?", "groups": ["Managers"]}}
            ],
        },
    )
    api.post(f"/api/workflows/{workflow['id']}/activate/")
    api.post(f"/api/workflows/{workflow['id']}/run/", {"input": {}}, format="json")
    approval = Approval.objects.get()
    boss = APIClient()
    boss.force_authenticate(manager)
    assert [a["id"] for a in boss.get("/api/approvals/?status=pending").json()["results"]] == [approval.pk]
    assert api.get(f"/api/approvals/{approval.pk}/").status_code == 404  # ops is not an approver
    assert boss.get(f"/api/approvals/{approval.pk}/approve/").status_code == 405
    assert boss.post(f"/api/approvals/{approval.pk}/reject/", {}, format="json").json() == {
        "comment": ["Say why you reject it."]
    }
    assert (
        boss.post(f"/api/approvals/{approval.pk}/approve/", {"comment": "go"}, format="json").json()["status"]
        == "approved"
    )
    assert boss.post(f"/api/approvals/{approval.pk}/approve/", {}, format="json").status_code == 409


def test_events_api_resumes_waiters_and_starts_event_triggers(api):
    waiter = create(
        api,
        {
            **DEFINITION,
            "steps": [
                {
                    "key": "await_reply",
                    "name": "Await",
                    "kind": "wait_for_event",
                    "config": {"event": "proposal.replied"},
                }
            ],
        },
    )
    api.post(f"/api/workflows/{waiter['id']}/activate/")
    api.post(f"/api/workflows/{waiter['id']}/run/", {"input": {}}, format="json")
    reactor = create(
        api,
        {
            **DEFINITION,
            "triggers": [{"kind": "event", "config": {"type": "proposal.replied", "filter": "event.data.hot == true"}}],
        },
    )
    api.post(f"/api/workflows/{reactor['id']}/activate/")
    cold = api.post("/api/events/", {"type": "proposal.replied", "data": {"hot": False}}, format="json").json()
    assert cold["resumed"] == 1 and cold["started"] == []
    hot = api.post(
        "/api/events/", {"type": "proposal.replied", "data": {"hot": True, "score": "hot"}}, format="json"
    ).json()
    assert len(hot["started"]) == 1
    assert api.post("/api/events/", {"type": "bad type!"}, format="json").status_code == 400


def test_one_workflow_reacts_to_another_ones_failure(api):
    broken = create(
        api, {**DEFINITION, "steps": [{"key": "boom", "name": "Boom", "kind": "fail", "config": {"message": "x"}}]}
    )
    api.post(f"/api/workflows/{broken['id']}/activate/")
    watcher = create(
        api,
        {
            **DEFINITION,
            "name": "Watcher",
            "triggers": [
                {
                    "kind": "event",
                    "config": {"type": "execution.failed", "filter": f"event.data.workflow_id == {broken['id']}"},
                }
            ],
        },
    )
    api.post(f"/api/workflows/{watcher['id']}/activate/")
    api.post(f"/api/workflows/{broken['id']}/run/", {"input": {}}, format="json")
    runs = api.get(f"/api/executions/?workflow={watcher['id']}").json()
    assert runs["count"] == 1 and runs["results"][0]["trigger_kind"] == "event"


def test_the_openapi_schema_validates_without_warnings(django_assert_max_num_queries):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null", stdout=out, stderr=out)


def test_docs_are_served_without_a_cdn(client):
    user = UserFactory(username="reader")
    client.force_login(user)
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page and "cdn." not in page and "/static/drf_spectacular_sidecar/" in page


def test_triggers_crud_validates_config_and_syncs_schedules(api):
    from django_celery_beat.models import PeriodicTask

    workflow = create(api)
    created = api.post(
        "/api/triggers/",
        {"workflow": workflow["id"], "kind": "schedule", "config": {"cron": "*/15 * * * *"}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert PeriodicTask.objects.get(task="workflows.tasks.fire_schedule").crontab.minute == "*/15"
    bad = api.patch(f"/api/triggers/{created.json()['id']}/", {"config": {"cron": "nope"}}, format="json")
    assert bad.status_code == 400
    hook = api.post(
        "/api/triggers/",
        {"workflow": workflow["id"], "kind": "webhook", "config": {"auth": "token"}, "secrets": ["s3cret"]},
        format="json",
    ).json()
    assert hook["webhook_url"].startswith("http://testserver/api/hooks/") and hook["has_secret"] is True
    assert "s3cret" not in str(api.get(f"/api/triggers/{hook['id']}/").json())
    api.delete(f"/api/triggers/{created.json()['id']}/")
    assert not PeriodicTask.objects.filter(task="workflows.tasks.fire_schedule").exists()


def test_a_version_can_be_frozen_without_activating(api):
    workflow = create(api)
    frozen = api.post(f"/api/workflows/{workflow['id']}/versions/", {"note": "before changes"}, format="json")
    assert frozen.status_code == 201 and frozen.json()["number"] == 1 and frozen.json()["is_active"] is False


def test_import_refuses_unknown_step_fields_instead_of_dropping_them(api):
    text = "name: X\nsteps:\n  - {key: a, name: A, kind: complete, retry_tries: 5, retry: {tries: 2}, goto: b}\n"
    response = api.post("/api/workflows/import/", text, content_type="application/yaml")
    assert response.status_code == 400
    assert "use retry: {initial_delay, jitter, max_attempts" in response.json()["steps[0].retry_tries"][0]
    assert "steps[0].retry.tries" in response.json() and "steps[0].goto" in response.json()


def test_api_changes_show_in_the_objects_admin_history(api):
    from django.contrib.admin.models import LogEntry

    workflow = create(api)
    api.patch(f"/api/workflows/{workflow['id']}/", {"description": "new"}, format="json")
    api.post("/api/triggers/", {"workflow": workflow["id"], "kind": "event", "config": {"type": "x.y"}}, format="json")
    entries = LogEntry.objects.filter(object_id=str(workflow["id"])).order_by("id")
    assert [e.get_change_message() for e in entries] == [
        "Added through the API.",
        "Changed description through the API.",
        "Added event trigger through the API.",
    ]
    assert {e.user.username for e in entries} == {"ops"}


def test_a_test_run_through_the_api_takes_fast_forward_and_send_reads(api):
    workflow = api.post("/api/workflows/", DEFINITION, format="json").json()
    body = {"input": {"score": "hot"}, "test": True, "fast_forward": True, "send_reads": True}
    run = api.post(f"/api/workflows/{workflow['id']}/run/", body, format="json")
    assert run.status_code == 202
    assert Execution.objects.get(pk=run.json()["id"]).trigger_meta == {"fast_forward": True, "send_reads": True}


def test_the_api_checks_step_and_trigger_configs_like_the_admin_naming_the_field(api):
    email = {"action": "send_email", "input": {"subject": "Hi", "body": "x"}}
    body = {"name": "Mail", "steps": [{"key": "mail", "name": "Send Mail", "kind": "action", "config": email}]}
    refused = api.post("/api/workflows/", body, format="json")
    assert refused.status_code == 400 and refused.json() == {"steps": [{"config": ["config.input.to: is required"]}]}
    schedule = {"kind": "schedule", "config": {"cron": 9}}
    bad_trigger = api.post("/api/workflows/", {"name": "Cron", "triggers": [schedule]}, format="json")
    assert bad_trigger.status_code == 400 and "config.cron" in bad_trigger.json()["triggers"][0]
    from workflows.models import Workflow

    assert not Workflow.objects.filter(name__in=["Mail", "Cron"]).exists()  # nothing half-written
