"""The API and the webhooks answer at their address with or without the trailing slash (a POST can't redirect)."""

import json

import pytest
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from executions.models import Execution
from tests.factories import EditorFactory, TriggerFactory, workflow_with_steps
from workflows.models import Workflow
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)


def api_client():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=EditorFactory()).key}")
    return client


@pytest.mark.parametrize("debug", [False, True])
def test_a_post_without_the_trailing_slash_is_accepted(debug):
    workflow = workflow_with_steps(
        [{"key": "greet", "name": "Greet", "config": {"action": "log", "inputs": {"message": "hi"}}}]
    )
    trigger = TriggerFactory(workflow=workflow, kind="webhook", config={"auth": "token"}, secrets=["s3cret"])
    workflow_activate(workflow=workflow)
    with override_settings(DEBUG=debug):  # with DEBUG on, APPEND_SLASH raises on a POST instead of redirecting
        delivered = APIClient().post(
            f"/api/hooks/{trigger.token}",
            json.dumps({"n": 1}),
            content_type="application/json",
            HTTP_X_WEBHOOK_TOKEN="s3cret",
        )
        created = api_client().post("/api/workflows", {"name": "No Slash", "steps": []}, format="json")
    assert delivered.status_code == 202, delivered.content
    assert Execution.objects.filter(workflow=workflow).count() == 1
    assert created.status_code == 201, created.content
    assert Workflow.objects.filter(name="No Slash").exists()


def test_other_methods_and_the_slashed_form_still_work():
    client = api_client()
    workflow = client.post("/api/workflows/", {"name": "Slashed", "steps": []}, format="json").json()
    assert client.get(f"/api/workflows/{workflow['id']}").status_code == 200
    assert client.patch(f"/api/workflows/{workflow['id']}", {"name": "Renamed"}, format="json").status_code == 200
    assert client.get("/api/no-such-thing").status_code == 404
