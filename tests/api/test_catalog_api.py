"""The API for connections (write-only credentials, test), connectors, agents and templates, with permissions."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations.models import Connection
from tests.factories import UserFactory
from tests.fakes import FakeServer
from workflows.library import templates_load
from workflows.models import Workflow

pytestmark = pytest.mark.django_db
CANARY = "sk_test_api_canary_5f2a9c"


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def editor():
    user = UserFactory(username="editor")
    user.groups.add(Group.objects.get(name="Workflow editors"))
    return client_for(user)


@pytest.fixture
def viewer():
    user = UserFactory(username="viewer")
    user.groups.add(Group.objects.get(name="Viewers"))
    return client_for(user)


def test_credentials_are_write_only_and_a_missing_field_is_named(editor):
    refused = editor.post("/api/connections/", {"service": "stripe", "credentials": {}}, format="json")
    assert refused.status_code == 400 and refused.json() == {"credentials": ["Stripe needs: secret_key"]}
    unknown = editor.post("/api/connections/", {"service": "stripe", "credentials": {"pin": "1"}}, format="json")
    assert unknown.status_code == 400 and "unknown field(s) for Stripe" in unknown.json()["credentials"][0]
    made = editor.post("/api/connections/", {"service": "stripe", "credentials": {"secret_key": CANARY}}, format="json")
    assert made.status_code == 201 and made.json()["stored_fields"] == ["secret_key"]
    pk = made.json()["id"]
    renamed = editor.patch(f"/api/connections/{pk}/", {"name": "live"}, format="json")
    assert renamed.json()["name"] == "live" and Connection.objects.get(pk=pk).credentials == {"secret_key": CANARY}
    listed = editor.get("/api/connections/")
    assert CANARY not in f"{made.content}{renamed.content}{listed.content}"


def test_test_calls_the_service_and_reports_ok(editor, settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    server = FakeServer()
    server.route("GET", "/v1/balance", body={"object": "balance", "available": []})
    creds = {"secret_key": CANARY, "base_url": server.url}
    connection = Connection.objects.create(service="stripe", credentials=creds)
    answer = editor.post(f"/api/connections/{connection.pk}/test/")
    server.close()
    assert answer.json() == {"ok": True, "error": ""} and server.requests[0].path == "/v1/balance"
    connection.refresh_from_db()
    assert connection.status == "ok"


def test_a_viewer_may_not_read_or_write_connections(viewer):
    assert viewer.get("/api/connections/").status_code == 403
    assert viewer.post("/api/connections/", {"service": "slack"}, format="json").status_code == 403


def test_the_connector_catalogue_lists_every_action_with_its_schema(viewer):
    stripe = viewer.get("/api/connectors/stripe/").json()
    refund = next(a for a in stripe["actions"] if a["name"] == "stripe.refund")
    assert stripe["category"] == "Payment" and stripe["test_action"] == "stripe.get_balance" and not stripe["oauth"]
    assert refund["read_only"] is False and "amount" in refund["input_schema"]["properties"]
    assert {c["name"] for c in viewer.get("/api/connectors/").json()} >= {"slack", "hubspot", "zendesk"}
    assert viewer.get("/api/connectors/nope/").status_code == 404


def test_agents_are_crud_and_unknown_allowed_actions_are_refused(editor, viewer):
    body = {"name": "Triage", "role": "Support", "allowed_actions": ["classify", "slack.post_message"]}
    assert editor.post("/api/agents/", body, format="json").status_code == 201
    bad = editor.post("/api/agents/", {**body, "name": "X", "allowed_actions": ["hack"]}, format="json")
    assert bad.status_code == 400 and bad.json() == {"allowed_actions": ["unknown action(s): hack"]}
    assert viewer.get("/api/agents/").status_code == 403
    assert editor.get("/api/agents/").json()["results"][0]["allowed_actions"] == ["classify", "slack.post_message"]


def test_templates_list_show_and_use_makes_a_draft(editor, viewer):
    templates_load()
    listed = viewer.get("/api/templates/").json()
    assert listed["count"] == 14 and "definition" not in listed["results"][0]
    refund = viewer.get("/api/templates/refund-approval/").json()
    assert refund["name"] == "Refund Approval" and refund["definition"]["steps"]
    assert viewer.post("/api/templates/refund-approval/use/").status_code == 403
    used = editor.post("/api/templates/refund-approval/use/")
    assert used.status_code == 201 and used.json()["status"] == "draft"
    assert Workflow.objects.get(pk=used.json()["id"]).template_slug == "refund-approval"
