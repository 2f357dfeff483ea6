"""OpenAI and OpenAI-compatible connections: an agent's key is a connection of its own, tested like any other."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection as db
from rest_framework.test import APIClient

from integrations.models import Connection
from integrations.services import connection_test
from workflows.models import Agent

pytestmark = pytest.mark.django_db
KEY = "sk-proj-canary-openai-123456"
MODELS = {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}, {"id": "gpt-4o", "object": "model"}]}


def test_test_connection_lists_the_models_with_the_key(vendor, connect):
    connection = connect("openai", api_key=KEY, base_url=f"{vendor.url}/v1")
    vendor.route("GET", "/v1/models", body=MODELS)
    assert connection_test(connection=connection) == (True, "")
    [request] = vendor.requests
    assert request.path == "/v1/models" and request.headers["Authorization"] == f"Bearer {KEY}"
    connection.refresh_from_db()
    assert connection.status == "ok"


def test_a_refused_key_fails_the_test_without_showing_the_key(vendor, connect):
    connection = connect("openai", api_key=KEY, base_url=f"{vendor.url}/v1")
    vendor.route("GET", "/v1/models", status=401, body={"error": {"message": f"Incorrect API key provided: {KEY}"}})
    ok, error = connection_test(connection=connection)
    connection.refresh_from_db()
    assert not ok and "401" in error and KEY not in error and KEY not in connection.last_error


def test_an_openai_compatible_server_needs_a_base_url_and_may_go_without_a_key(vendor, connect):
    connection = connect("openai_compatible", base_url=f"{vendor.url}/v1")
    vendor.route("GET", "/v1/models", body=MODELS)
    assert connection_test(connection=connection) == (True, "")
    assert "Authorization" not in vendor.requests[0].headers


def test_an_agent_key_connection_is_created_through_the_api_and_stored_encrypted(admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    created = api.post(
        "/api/connections/", {"service": "openai", "name": "models", "credentials": {"api_key": KEY}}, format="json"
    )
    assert created.status_code == 201 and KEY not in created.content.decode()
    with db.cursor() as cursor:
        cursor.execute("SELECT credentials FROM integrations_connection WHERE id = %s", [created.json()["id"]])
        assert KEY not in cursor.fetchone()[0]
    missing = api.post("/api/connections/", {"service": "openai_compatible", "credentials": {}}, format="json")
    assert missing.status_code == 400 and "base_url" in str(missing.json())


def test_an_agent_may_only_name_a_connection_of_its_providers_kind(admin_user):
    stripe = Connection.objects.create(service="stripe", name="live", credentials={"secret_key": "sk_live_x"})
    models = Connection.objects.create(service="openai", name="models", credentials={"api_key": KEY})
    with pytest.raises(ValidationError, match="stripe connection"):
        Agent(name="Triage", provider="openai", connection=stripe).full_clean()
    Agent(name="Triage", provider="openai", connection=models).full_clean()
    api = APIClient()
    api.force_authenticate(admin_user)
    body = {"name": "Triage", "provider": "openai", "allowed_actions": ["classify"]}
    refused = api.post("/api/agents/", {**body, "connection": stripe.pk}, format="json")
    assert refused.status_code == 400 and "stripe connection" in refused.json()["connection"][0]
    assert api.post("/api/agents/", {**body, "connection": models.pk}, format="json").status_code == 201
    anthropic = api.post("/api/agents/", {**body, "name": "Claude", "provider": "anthropic", "connection": models.pk})
    assert anthropic.status_code == 400
