"""Hostile bodies cost little and get a 4xx JSON answer naming the problem: never a 500 or an HTML page."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from executions.models import Event, Execution
from tests.factories import TriggerFactory, UserFactory, log_step, workflow_with_steps
from workflows.models import Workflow
from workflows.services import workflow_activate

from ..workflows.test_safe_yaml import ALIAS_BOMB

pytestmark = pytest.mark.django_db
SECRET = "hook-secret-123"
DEEP = "[" * 10_000 + "]" * 10_000
ELEVEN_MB = b'{"name": "big", "steps": [], "blob": "' + b"x" * (11 * 1024 * 1024) + b'"}'


@pytest.fixture
def api():
    user = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = APIClient(raise_request_exception=False)  # a 500 is an answer to look at, not a test crash
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def hook():
    workflow = workflow_with_steps([log_step("log")])
    trigger = TriggerFactory(workflow=workflow, kind="webhook", config={"auth": "token"}, secrets=[SECRET])
    workflow_activate(workflow=workflow)
    return lambda body: APIClient(raise_request_exception=False).post(
        f"/api/hooks/{trigger.token}/", body, content_type="application/json", HTTP_X_WEBHOOK_TOKEN=SECRET
    )


def json_answer(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def api_posts(api):
    """Every JSON body the API reads: a workflow definition, an event, a manual run's input."""
    return {
        "workflows": lambda body: api.post("/api/workflows/", body, content_type="application/json"),
        "events": lambda body: api.post("/api/events/", body, content_type="application/json"),
    }


def test_deeply_nested_json_gets_400_json(api, hook):
    for name, post in api_posts(api).items():
        assert "nested more than" in str(json_answer(post(DEEP), 400)), name
    assert "nested more than" in str(json_answer(hook(DEEP), 400))


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_in_api_body_is_refused(api, hook, number):
    event = f'{{"type": "order.created", "data": {{"amount": {number}}}}}'
    assert "JSON" in str(json_answer(api_posts(api)["events"](event), 400))
    assert "Malformed JSON" in str(json_answer(hook(f'{{"amount": {number}}}'), 400))
    assert not Event.objects.exists() and not Execution.objects.exists()


def test_huge_integer_is_refused(api, hook):
    digits = "9" * 5_000
    event = f'{{"type": "order.created", "data": {{"amount": {digits}}}}}'
    assert "more than 100 digits" in str(json_answer(api_posts(api)["events"](event), 400))
    assert "more than 100 digits" in str(json_answer(hook(f'{{"amount": {digits}}}'), 400))
    assert not Event.objects.exists() and not Execution.objects.exists()


def test_11mb_body_gets_413_json(api, hook):
    for name, post in api_posts(api).items():
        assert "larger than" in json_answer(post(ELEVEN_MB), 413)["detail"], name
    assert "larger than" in json_answer(hook(ELEVEN_MB), 413)["detail"]
    imported = api.post("/api/workflows/import/", ELEVEN_MB, content_type="application/yaml")
    assert "larger than" in str(json_answer(imported, 413))
    assert not Workflow.objects.filter(name="big").exists()


def test_yaml_alias_bomb_import_gets_400_json_quickly(api):
    answer = json_answer(api.post("/api/workflows/import/", ALIAS_BOMB, content_type="application/yaml"), 400)
    assert "aliases" in str(answer["definition"])


def test_oversized_definition_file_gets_413_json(api):
    text = "name: big\nsteps: []\n" + "#" * 1_000_001
    answer = json_answer(api.post("/api/workflows/import/", text, content_type="application/yaml"), 413)
    assert "larger than" in str(answer["definition"])


def test_deeply_nested_definition_import_gets_400_json(api):
    answer = json_answer(api.post("/api/workflows/import/", DEEP, content_type="application/json"), 400)
    assert "nested more than" in str(answer["definition"])


def test_an_ordinary_body_is_still_read(api):
    answer = json_answer(api_posts(api)["events"]('{"type": "order.created", "data": {"amount": 12.5}}'), 201)
    assert answer["data"] == {"amount": 12.5}
