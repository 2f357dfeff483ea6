"""What schemathesis found: hostile or odd input gets a 4xx JSON answer naming the field, never a 500."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from executions.models import Execution
from executions.services import execution_start
from tests.factories import TriggerFactory, UserFactory, active_workflow, log_step, workflow_with_steps
from workflows.models import Trigger, Workflow
from workflows.services import workflow_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    boss = UserFactory(username="boss", is_superuser=True, is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=boss).key}")
    return client


@pytest.fixture
def workflow():
    """An active workflow with two versions and one finished run."""
    workflow = active_workflow([log_step("greet")], name="Greeter")
    workflow.steps.update(name="Greet Warmly")
    workflow_snapshot(workflow=workflow)
    execution = execution_start(workflow=workflow, input={}, trigger_kind="api")
    Execution.objects.filter(pk=execution.pk).update(status=Execution.Status.SUCCEEDED)
    return workflow


def test_deleting_an_active_workflow_answers_409_not_500(api, workflow):
    answer = api.delete(f"/api/workflows/{workflow.pk}/")
    assert answer.status_code == 409
    assert "deactivate it first" in answer.json()["detail"] and Workflow.objects.filter(pk=workflow.pk).exists()


def test_a_paused_workflow_is_deleted_with_its_finished_runs(api, workflow):
    api.post(f"/api/workflows/{workflow.pk}/deactivate/")
    assert api.delete(f"/api/workflows/{workflow.pk}/").status_code == 204
    assert not Workflow.objects.filter(pk=workflow.pk).exists() and not Execution.objects.exists()


def test_a_paused_workflow_with_a_run_in_progress_is_not_deleted(api, workflow):
    api.post(f"/api/workflows/{workflow.pk}/deactivate/")
    Execution.objects.update(status=Execution.Status.WAITING)
    answer = api.delete(f"/api/workflows/{workflow.pk}/")
    assert answer.status_code == 409 and "1 run" in answer.json()["detail"]


def test_trigger_id_is_read_only(api, workflow):
    manual = TriggerFactory(workflow=workflow, name="Button")
    created = api.post(
        "/api/triggers/", {"id": manual.pk, "workflow": workflow.pk, "kind": "manual", "name": "Second"}, format="json"
    )
    assert created.status_code == 201 and created.json()["id"] != manual.pk
    changed = api.put(
        f"/api/triggers/{manual.pk}/", {"id": 0, "workflow": workflow.pk, "kind": "manual"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["id"] == manual.pk
    assert sorted(Trigger.objects.values_list("name", flat=True)) == ["Button", "Second"]


def test_a_trigger_for_a_missing_workflow_is_400_naming_the_field(api):
    answer = api.post("/api/triggers/", {"workflow": 999_999, "kind": "manual"}, format="json")
    assert answer.status_code == 400 and "workflow" in answer.json()


def test_null_json_fields_sent_as_a_form_are_400_not_500(api, workflow):
    trigger = TriggerFactory(workflow=workflow)
    answer = api.patch(f"/api/triggers/{trigger.pk}/", {"config": "null"}, format="multipart")
    assert answer.status_code == 400 and "config" in answer.json()
    answer = api.patch(f"/api/workflows/{workflow.pk}/", {"sample_input": "null"}, format="multipart")
    assert answer.status_code == 400 and "sample_input" in answer.json()


def test_created_after_with_impossible_offset_is_400(api, workflow):
    answer = api.get("/api/executions/", {"created_after": "2024-01-01T00:00:00-18:24"})
    assert answer.status_code == 400 and "created_after" in answer.json()
    kept = api.get("/api/executions/", {"created_after": "2000-01-01T00:00:00+14:00"})
    assert kept.status_code == 200 and kept.json()["count"] == 1


def test_diff_with_non_numeric_version_is_400(api, workflow):
    answer = api.get(f"/api/workflows/{workflow.pk}/diff/", {"from": "ù", "to": "2"})
    assert answer.status_code == 400 and list(answer.json()) == ["from"]
    assert api.get(f"/api/workflows/{workflow.pk}/diff/", {"from": "1", "to": "9"}).status_code == 404
    assert api.get(f"/api/workflows/{workflow.pk}/diff/", {"from": "1", "to": "2"}).status_code == 200


def test_activate_with_non_numeric_version_is_400(api, workflow):
    answer = api.post(f"/api/workflows/{workflow.pk}/activate/?version=x")
    assert answer.status_code == 400 and "version" in answer.json()


def test_run_with_a_body_that_is_not_an_object_is_400(api, workflow):
    answer = api.post(f"/api/workflows/{workflow.pk}/run/", [None, None], format="json")
    assert answer.status_code == 400 and answer.json()


def test_delegating_a_malformed_approval_id_is_404(api):
    answer = api.post("/api/approvals/null,null/delegate/", {"to": "someone"}, format="json")
    assert answer.status_code == 404 and answer.json()["detail"]


def test_an_unknown_api_address_answers_json_404(api):
    answer = api.post("/api/approvals/0.5/approve/", {}, format="json")
    assert answer.status_code == 404 and answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": "Not found."}


def test_a_draft_workflow_reports_no_active_version(api):
    draft = workflow_with_steps([log_step("greet")], name="Draft")
    assert api.get(f"/api/workflows/{draft.pk}/").json()["active_version"] is None


def test_unknown_field_names_never_reach_the_audit_log(api, workflow):
    from django.contrib.admin.models import LogEntry

    answer = api.patch(f"/api/workflows/{workflow.pk}/", {"description": "x", "bad\x00key": "1"}, format="multipart")
    assert answer.status_code == 200
    assert LogEntry.objects.latest("pk").get_change_message() == "Changed description through the API."


def test_a_version_note_longer_than_200_characters_is_400(api, workflow):
    answer = api.post(f"/api/workflows/{workflow.pk}/versions/", {"note": "n" * 201}, format="json")
    assert answer.status_code == 400 and "note" in answer.json()


def test_an_unknown_export_format_is_400(api, workflow):
    answer = api.get(f"/api/workflows/{workflow.pk}/export/", {"file_format": "xml"})
    assert answer.status_code == 400 and "file_format" in answer.json()


def test_importing_a_file_that_is_not_utf8_is_400(api):
    answer = api.post("/api/workflows/import/", b"W+\xad", content_type="application/json")
    assert answer.status_code == 400 and "definition" in answer.json()


def test_a_nul_character_in_json_is_400_not_500(api, workflow):
    hook = TriggerFactory(workflow=workflow, kind="webhook", config={"auth": "none"})
    delivery = APIClient().post(f"/api/hooks/{hook.token}/", '{"note": "a\\u0000b"}', content_type="application/json")
    assert delivery.status_code == 400 and "\\u0000" in str(delivery.json())
    run = api.post(f"/api/workflows/{workflow.pk}/run/", '{"input": {"a\\u0000": 1}}', content_type="application/json")
    assert run.status_code == 400 and not Execution.objects.filter(input__has_key="a").exists()


def test_json_typed_into_a_form_is_read_as_strictly_as_a_json_body(api, workflow):
    for text in ('{"a": "\\u0000"}', '{"a": NaN}'):
        answer = api.patch(f"/api/workflows/{workflow.pk}/", {"sample_input": text}, format="multipart")
        assert answer.status_code == 400 and "sample_input" in answer.json()
    event = api.post("/api/events/", {"type": "lead.created", "data": '{"a": "\\u0000"}'}, format="multipart")
    assert event.status_code == 400 and "data" in event.json()


def test_importing_yaml_with_a_nul_character_is_400_not_500(api):
    body = 'name: "a\\0b"\nsteps: []\ntriggers: []\n'
    answer = api.post("/api/workflows/import/", body, content_type="application/yaml")
    assert answer.status_code == 400 and "NUL" in answer.json()["definition"][0]
