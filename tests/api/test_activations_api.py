"""The activation API: activate answers 202 with a request; a second editor approves; refusals name the field."""

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory, log_step, workflow_with_steps
from workflows.models import ActivationRequest, Workflow

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def asked(ann):
    """A reviewed workflow whose activation ann asked for through the API."""
    workflow = workflow_with_steps([log_step("hello")], owner=ann, activation_review=True)
    response = client_for(ann).post(f"/api/workflows/{workflow.pk}/activate/")
    assert response.status_code == 202, response.json()
    return workflow, response.json()


def test_activate_answers_202_with_the_request_its_diff_and_an_empty_replay_report(asked):
    workflow, body = asked
    assert body["status"] == "pending" and body["version"] == 1 and body["base_version"] is None
    assert body["requested_by"] == "ann" and body["may_decide"] is False  # not for the requester
    assert body["diff"]["added"] == ["hello"] and body["replay_report"] is None and body["stale"] is False
    assert body["reasons"] == ["the workflow asks for a second editor's approval"]
    assert Workflow.objects.get(pk=workflow.pk).status == "draft"


def test_a_second_editor_lists_and_approves_it(asked, bob):
    workflow, body = asked
    listed = client_for(bob).get("/api/activations/?status=pending").json()["results"]
    assert [(r["id"], r["may_decide"]) for r in listed] == [(body["id"], True)]
    response = client_for(bob).post(f"/api/activations/{body['id']}/approve/", {"comment": "ok"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert response.json()["decided_by"] == "bob"
    assert Workflow.objects.get(pk=workflow.pk).active_version.number == 1


def test_the_requester_is_refused_with_a_reason(asked, ann):
    response = client_for(ann).post(f"/api/activations/{asked[1]['id']}/approve/", {}, format="json")
    assert response.status_code == 403 and "another editor must approve" in response.json()["detail"]


def test_reject_without_a_comment_names_the_field(asked, bob):
    url = f"/api/activations/{asked[1]['id']}/reject/"
    response = client_for(bob).post(url, {"comment": ""}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["comment"]
    too_long = client_for(bob).post(url, {"comment": "x" * 2001}, format="json")
    assert too_long.status_code == 400 and "comment" in too_long.json()
    assert client_for(bob).post(url, {"comment": "Wrong list"}, format="json").json()["status"] == "rejected"


def test_a_decided_request_answers_409(asked, bob):
    url = f"/api/activations/{asked[1]['id']}/"
    client_for(bob).post(url + "approve/", {}, format="json")
    response = client_for(bob).post(url + "reject/", {"comment": "late"}, format="json")
    assert response.status_code == 409 and "already approved" in response.json()["detail"]


def test_the_requester_withdraws_and_others_may_not(asked, ann, bob):
    url = f"/api/activations/{asked[1]['id']}/withdraw/"
    assert client_for(bob).post(url).status_code == 403
    assert client_for(ann).post(url).json()["status"] == "withdrawn"


def test_someone_who_cannot_see_the_workflow_gets_404(asked):
    stranger = UserFactory(username="stranger", is_staff=True)
    assert client_for(stranger).get(f"/api/activations/{asked[1]['id']}/").status_code == 404
    assert client_for(stranger).get("/api/activations/").json()["results"] == []


def test_a_stale_request_says_so_and_approving_activates_the_reviewed_version(asked, bob):
    workflow, body = asked
    workflow.steps.update(name="Edited after asking")
    detail = client_for(bob).get(f"/api/activations/{body['id']}/").json()
    assert detail["stale"] is True
    client_for(bob).post(f"/api/activations/{body['id']}/approve/", {}, format="json")
    assert Workflow.objects.get(pk=workflow.pk).active_version.definition["steps"][0]["name"] == "Hello"


def test_the_setting_is_read_and_written_through_the_workflow_api(ann):
    workflow = workflow_with_steps([log_step("hello")], owner=ann)
    client = client_for(ann)
    assert client.get(f"/api/workflows/{workflow.pk}/").json()["activation_review"] is False
    response = client.patch(f"/api/workflows/{workflow.pk}/", {"activation_review": "maybe"}, format="json")
    assert response.status_code == 400 and "activation_review" in response.json()
    client.patch(f"/api/workflows/{workflow.pk}/", {"activation_review": True}, format="json")
    assert client.post(f"/api/workflows/{workflow.pk}/activate/").status_code == 202
    assert ActivationRequest.objects.filter(workflow=workflow, status="pending").count() == 1


def test_a_connection_is_marked_money_through_the_api(ann):
    client = client_for(UserFactory(username="root", is_staff=True, is_superuser=True))
    body = {"service": "stripe", "name": "live", "sensitivity": "money", "credentials": {"secret_key": "sk_x"}}
    response = client.post("/api/connections/", body, format="json")
    assert response.status_code == 201 and response.json()["sensitivity"] == "money"
    bad = client.post("/api/connections/", {**body, "name": "b", "sensitivity": "secret"}, format="json")
    assert bad.status_code == 400 and "sensitivity" in bad.json()
