"""The API and the YAML format spell a definition one way; old spellings are accepted with a deprecation warning."""

import pytest
import yaml
from rest_framework.test import APIClient

from tests.factories import EditorFactory, workflow_with_steps

pytestmark = pytest.mark.django_db

OLD_STEP = {
    "key": "hello",
    "name": "Hello",
    "config": {"action": "log", "inputs": {"message": "hi {{trigger.name}}"}},
    "next_step": "end",
    "retry_max_attempts": 5,
}
CURRENT_STEP = {
    "key": "hello",
    "name": "Hello",
    "config": {"action": "log", "input": {"message": "hi {{trigger.name}}"}},
    "next": "end",
    "retry": {"max_attempts": 5},
}
OLD_NOTES = ["steps[0].next_step", "steps[0].retry_max_attempts", "steps[0].config.inputs"]


@pytest.fixture
def api():
    client = APIClient()
    client.user = EditorFactory(username="speller")
    client.force_authenticate(client.user)
    return client


def fields_named(notes: list[str]) -> list[str]:
    return [n.split(":")[0] for n in notes]


def test_the_api_reads_the_old_spelling_answers_in_the_current_one_and_warns(api):
    response = api.post("/api/workflows/", {"name": "Old", "steps": [OLD_STEP]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert fields_named(body["warnings"]) == OLD_NOTES and "deprecated spelling" in body["warnings"][0]
    step = body["steps"][0]
    assert step["next"] == "end" and step["retry"]["max_attempts"] == 5 and step["config"]["input"]["message"]
    assert not {"next_step", "retry_max_attempts"} & set(step) and "inputs" not in step["config"]
    again = api.get(f"/api/workflows/{body['id']}/").json()
    assert again["steps"] == body["steps"] and again["warnings"] == []


def test_the_current_spelling_gives_no_warning_and_the_same_workflow(api):
    body = api.post("/api/workflows/", {"name": "New", "steps": [CURRENT_STEP]}, format="json").json()
    assert body["warnings"] == []
    old = api.post("/api/workflows/", {"name": "Old", "steps": [OLD_STEP]}, format="json").json()
    assert old["steps"] == body["steps"]


def test_import_reads_the_old_spelling_with_a_warning_and_export_writes_the_current_one(api):
    text = yaml.safe_dump({"name": "Imported", "steps": [OLD_STEP]})
    response = api.post("/api/workflows/import/", text, content_type="application/yaml")
    assert response.status_code == 201, response.json()
    assert fields_named(response.json()["warnings"]) == OLD_NOTES
    exported = yaml.safe_load(api.get(f"/api/workflows/{response.json()['id']}/export/").content)
    step = exported["steps"][0]
    assert step["next"] == "end" and step["retry"]["max_attempts"] == 5 and step["config"]["input"]
    assert not {"next_step", "retry_max_attempts"} & set(step) and "inputs" not in step["config"]
    reimported = api.post("/api/workflows/import/", yaml.safe_dump(exported), content_type="application/yaml")
    assert reimported.status_code == 201 and reimported.json()["warnings"] == []


def test_validation_warns_about_a_draft_step_still_in_the_old_spelling(api):
    workflow = workflow_with_steps([{"key": "hello", "name": "Hello", "config": OLD_STEP["config"]}], owner=api.user)
    answer = api.post(f"/api/workflows/{workflow.pk}/validate/").json()
    assert answer["valid"] is True and fields_named(answer["warnings"]) == ["steps[0].config.inputs"]


def test_an_unknown_field_is_still_an_error_next_to_an_old_spelling(api):
    text = yaml.safe_dump({"name": "X", "steps": [{**OLD_STEP, "retry_tries": 2}]})
    response = api.post("/api/workflows/import/", text, content_type="application/yaml")
    assert response.status_code == 400 and list(response.json()) == ["steps[0].retry_tries"]


def test_a_version_frozen_in_the_old_spelling_reads_in_the_current_one_and_respelling_is_no_change(api):
    from workflows.models import WorkflowVersion

    created = api.post("/api/workflows/", {"name": "Frozen", "steps": [CURRENT_STEP]}, format="json").json()
    wid = created["id"]
    api.post(f"/api/workflows/{wid}/versions/", {"note": "v1"}, format="json")
    v1 = WorkflowVersion.objects.get(workflow_id=wid, number=1)
    step = v1.definition["steps"][0]  # respelt the old way, as a version frozen before the one spelling
    step["next_step"], step["config"]["inputs"] = step.pop("next"), step["config"].pop("input")
    step.update({f"retry_{k}": v for k, v in step.pop("retry").items()})
    v1.save(update_fields=["definition"])
    api.patch(f"/api/workflows/{wid}/", {"steps": [{**CURRENT_STEP, "name": "Hello again"}]}, format="json")
    api.post(f"/api/workflows/{wid}/versions/", {"note": "v2"}, format="json")
    shown = api.get(f"/api/workflows/{wid}/versions/").json()[-1]["definition"]["steps"][0]
    assert (
        "next_step" not in shown
        and shown["next"] == "end"
        and shown["retry"]["max_attempts"] == 5
        and "input" in shown["config"]
    )
    diff = api.get(f"/api/workflows/{wid}/diff/?from=1&to=2").json()
    assert diff["changed"] == {"hello": {"name": {"from": "Hello", "to": "Hello again"}}}
