"""Anthropic connections: an agent's Claude key is a connection of its own; Test connection lists the models."""

import pytest

from integrations.services import connection_test

pytestmark = pytest.mark.django_db
KEY = "sk-ant-canary-anthropic-654321"


def test_test_connection_sends_the_key_and_the_api_version(vendor, connect):
    connection = connect("anthropic", api_key=KEY)
    vendor.route("GET", "/v1/models", body={"data": [{"id": "claude-sonnet-4-5", "type": "model"}], "has_more": False})
    assert connection_test(connection=connection) == (True, "")
    [request] = vendor.requests
    assert request.headers["X-Api-Key"] == KEY and request.headers["anthropic-version"] == "2023-06-01"


def test_a_refused_key_fails_the_test_without_showing_the_key(vendor, connect):
    connection = connect("anthropic", api_key=KEY)
    body = {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key {KEY}"}}
    vendor.route("GET", "/v1/models", status=401, body=body)
    ok, error = connection_test(connection=connection)
    connection.refresh_from_db()
    assert not ok and "401" in error and KEY not in connection.last_error and connection.status == "failed"
