"""Zendesk: the exact Ticketing API requests, the idempotency key on creation, errors and secrets kept out."""

import base64

import pytest

from executions.engine.errors import StepError
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
TOKEN = "zd-canary-0123456789abcdef"
EMAIL = "agent@acme.test"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
TICKET = {
    "url": "https://acme.zendesk.com/api/v2/tickets/35436.json",
    "id": 35436,
    "subject": "Printer offline",
    "status": "open",
    "priority": "high",
    "requester_id": 20978392,
    "tags": ["printer"],
}


def connect_zendesk(connect, **credentials):
    return connect("zendesk", subdomain="acme", email=EMAIL, api_token=TOKEN, **credentials)


def test_create_ticket_posts_the_ticket_with_basic_auth_and_the_idempotency_key(vendor, connect):
    connect_zendesk(connect)
    vendor.route("POST", "/api/v2/tickets.json", status=201, body={"ticket": TICKET, "audit": {"id": 1}})
    inputs = {
        "subject": "Printer offline",
        "body": "My printer is offline. Restarting doesn't help.",
        "requester_email": "jo@customer.test",
        "requester_name": "Jo",
        "priority": "high",
        "tags": ["printer"],
        "group_id": 360001,
    }
    result = call("zendesk.create_ticket", inputs, key="faos-7-step-2")
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/api/v2/tickets.json")
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Idempotency-Key"] == "faos-7-step-2"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "ticket": {
            "subject": "Printer offline",
            "comment": {"body": "My printer is offline. Restarting doesn't help."},
            "requester": {"email": "jo@customer.test", "name": "Jo"},
            "priority": "high",
            "tags": ["printer"],
            "group_id": 360001,
        }
    }
    assert result == {"id": 35436, "status": "open", "url": "https://acme.zendesk.com/agent/tickets/35436"}


def test_an_oauth_access_token_is_sent_as_a_bearer_header(vendor, connect):
    connect("zendesk", subdomain="acme", access_token="zd-oauth-canary-987654")
    vendor.route("POST", "/api/v2/tickets.json", status=201, body={"ticket": TICKET})
    call("zendesk.create_ticket", {"subject": "S", "body": "B", "public": False})
    [request] = vendor.requests
    assert request.headers["Authorization"] == "Bearer zd-oauth-canary-987654"
    assert request.json() == {"ticket": {"subject": "S", "comment": {"body": "B", "public": False}}}


def test_update_ticket_puts_only_the_fields_given_without_an_idempotency_key(vendor, connect):
    connect_zendesk(connect)
    vendor.route("PUT", "/api/v2/tickets/35436.json", body={"ticket": {**TICKET, "status": "solved"}})
    inputs = {"ticket_id": 35436, "status": "solved", "assignee_id": 123, "tags": ["done"]}
    result = call("zendesk.update_ticket", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("PUT", "/api/v2/tickets/35436.json")
    assert request.headers["Authorization"] == BASIC and "Idempotency-Key" not in request.headers
    assert request.json() == {"ticket": {"status": "solved", "tags": ["done"], "assignee_id": 123}}
    assert result == {"id": 35436, "status": "solved", "url": "https://acme.zendesk.com/agent/tickets/35436"}


def test_update_ticket_with_nothing_to_change_fails_before_sending(vendor, connect):
    connect_zendesk(connect)
    with pytest.raises(StepError, match="nothing to update") as exc:
        call("zendesk.update_ticket", {"ticket_id": 1})
    assert vendor.requests == [] and exc.value.retryable is False


def test_add_comment_puts_the_ticket_with_a_comment_and_returns_the_comment_id(vendor, connect):
    connect_zendesk(connect)
    audit = {"id": 555, "events": [{"type": "Change", "id": 1}, {"type": "Comment", "id": 9001, "public": False}]}
    vendor.route("PUT", "/api/v2/tickets/35436.json", body={"ticket": TICKET, "audit": audit})
    result = call("zendesk.add_comment", {"ticket_id": "35436", "body": "Escalated to L2", "public": False})
    [request] = vendor.requests
    assert (request.method, request.path) == ("PUT", "/api/v2/tickets/35436.json")
    assert request.json() == {"ticket": {"comment": {"body": "Escalated to L2", "public": False}}}
    assert result["comment_id"] == 9001 and result["id"] == 35436


def test_a_ticket_id_cannot_escape_the_ticket_path(vendor, connect):
    connect_zendesk(connect)
    vendor.route("PUT", "/api/v2/tickets/1%2F..%2Fusers.json", body={"ticket": TICKET})
    call("zendesk.add_comment", {"ticket_id": "1/../users", "body": "x"})
    assert vendor.requests[0].path == "/api/v2/tickets/1%2F..%2Fusers.json"


def test_a_4xx_is_not_retryable_and_carries_zendesks_message_without_the_token(vendor, connect):
    connect_zendesk(connect)
    body = {"error": "RecordInvalid", "description": "Record validation errors", "details": {"echo": TOKEN}}
    vendor.route("POST", "/api/v2/tickets.json", status=422, body=body)
    with pytest.raises(StepError) as exc:
        call("zendesk.create_ticket", {"subject": "S", "body": "B"})
    assert exc.value.retryable is False and "Record validation errors" in str(exc.value)
    assert TOKEN not in str(exc.value)


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_and_server_errors_are_retryable(vendor, connect, status):
    connect_zendesk(connect)
    vendor.route("PUT", "/api/v2/tickets/1.json", status=status, headers={"Retry-After": "7"}, body={"echo": TOKEN})
    with pytest.raises(StepError) as exc:
        call("zendesk.update_ticket", {"ticket_id": 1, "status": "pending"})
    assert exc.value.retryable is True and exc.value.retry_after == 7.0 and TOKEN not in str(exc.value)


def test_results_never_carry_the_token_even_when_zendesk_echoes_it(vendor, connect):
    connect_zendesk(connect)
    vendor.route("POST", "/api/v2/tickets.json", status=201, body={"ticket": {**TICKET, "status": TOKEN}})
    assert TOKEN not in str(call("zendesk.create_ticket", {"subject": "S", "body": "B"}))


def test_test_runs_record_the_request_with_credentials_redacted_and_send_nothing(vendor, connect):
    connect_zendesk(connect)
    result = call("zendesk.create_ticket", {"subject": "S", "body": "B"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["method"] == "POST" and sent["url"].endswith("/api/v2/tickets.json")
    assert sent["headers"]["Authorization"] == "[redacted]" and TOKEN not in str(result)


def test_without_a_base_url_requests_go_to_the_accounts_subdomain(vendor, connect):
    connect_zendesk(connect, base_url="")
    result = call("zendesk.update_ticket", {"ticket_id": 5, "priority": "low"}, test_mode=True)
    assert result["would_send"]["url"] == "https://acme.zendesk.com/api/v2/tickets/5.json"


def test_a_subdomain_that_would_change_the_host_is_refused(vendor, connect):
    connect("zendesk", subdomain="evil.test/x?", email=EMAIL, api_token=TOKEN, base_url="")
    with pytest.raises(StepError, match="subdomain"):
        call("zendesk.update_ticket", {"ticket_id": 5, "priority": "low"})


def test_the_connection_test_reads_the_current_user(vendor, connect):
    connect_zendesk(connect)
    user = {"id": 1905826600027, "name": "Agent Smith", "email": EMAIL, "role": "agent", "active": True}
    vendor.route("GET", "/api/v2/users/me.json", body={"user": user})
    result = call("zendesk.current_user", {})
    [request] = vendor.requests
    assert (request.method, request.path, request.headers["Authorization"]) == ("GET", "/api/v2/users/me.json", BASIC)
    assert result["id"] == 1905826600027 and result["role"] == "agent"


def test_the_connection_test_fails_when_zendesk_answers_as_the_anonymous_user(vendor, connect):
    connect_zendesk(connect)
    vendor.route("GET", "/api/v2/users/me.json", body={"user": {"id": None, "name": "Anonymous user"}})
    with pytest.raises(StepError, match="not accepted"):
        call("zendesk.current_user", {})
