"""Freshdesk: the exact API v2 requests (API key as Basic user, "X" as password), errors and secrets kept out."""

import base64

import pytest

from executions.engine.errors import StepError
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
API_KEY = "fd-canary-abcdef0123456789"
BASIC = "Basic " + base64.b64encode(f"{API_KEY}:X".encode()).decode()
TICKET = {
    "cc_emails": ["ram@freshdesk.com"],
    "group_id": None,
    "priority": 3,
    "requester_id": 1000,
    "responder_id": None,
    "source": 2,
    "status": 2,
    "subject": "Support Needed...",
    "id": 1,
    "type": None,
    "created_at": "2015-07-09T13:08:06Z",
    "description": "<div>Details about the issue...</div>",
    "description_text": "Details about the issue...",
    "tags": [],
}


def connect_freshdesk(connect, **credentials):
    return connect("freshdesk", domain="acme", api_key=API_KEY, **credentials)


def test_create_ticket_posts_the_documented_ticket_with_numeric_status_and_priority(vendor, connect):
    connect_freshdesk(connect)
    vendor.route("POST", "/api/v2/tickets", status=201, body=TICKET)
    inputs = {
        "subject": "Support Needed...",
        "description": "<div>Details about the issue...</div>",
        "email": "tom@outerspace.test",
        "priority": "high",
        "cc_emails": ["ram@freshdesk.com"],
    }
    result = call("freshdesk.create_ticket", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/api/v2/tickets")
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "subject": "Support Needed...",
        "description": "<div>Details about the issue...</div>",
        "status": 2,
        "priority": 3,
        "email": "tom@outerspace.test",
        "cc_emails": ["ram@freshdesk.com"],
    }
    assert result == {"id": 1, "status": "open", "requester_id": 1000}


def test_create_ticket_needs_a_requester_before_sending(vendor, connect):
    connect_freshdesk(connect)
    with pytest.raises(StepError, match="requester") as exc:
        call("freshdesk.create_ticket", {"subject": "S", "description": "D"})
    assert vendor.requests == [] and exc.value.retryable is False


def test_reply_posts_the_body_to_the_tickets_reply_endpoint(vendor, connect):
    connect_freshdesk(connect)
    reply = {
        "body": "<div>We are on it.</div>",
        "body_text": "We are on it.",
        "id": 13,
        "user_id": 5,
        "from_email": "support@acme.test",
        "cc_emails": [],
        "bcc_emails": ["lead@acme.test"],
        "ticket_id": 42,
        "created_at": "2016-05-19T11:51:44Z",
        "attachments": [],
    }
    vendor.route("POST", "/api/v2/tickets/42/reply", status=201, body=reply)
    result = call(
        "freshdesk.reply", {"ticket_id": 42, "body": "<div>We are on it.</div>", "bcc_emails": ["lead@acme.test"]}
    )
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/api/v2/tickets/42/reply")
    assert request.headers["Authorization"] == BASIC
    assert request.json() == {"body": "<div>We are on it.</div>", "bcc_emails": ["lead@acme.test"]}
    assert result == {"id": 13, "ticket_id": 42, "created_at": "2016-05-19T11:51:44Z"}


def test_a_validation_error_is_not_retryable_and_carries_freshdesks_message_without_the_key(vendor, connect):
    connect_freshdesk(connect)
    errors = [{"field": "email", "message": "There is no contact matching the given email", "code": "invalid_value"}]
    vendor.route(
        "POST", "/api/v2/tickets", status=400, body={"description": "Validation failed", "errors": errors, "k": API_KEY}
    )
    with pytest.raises(StepError) as exc:
        call("freshdesk.create_ticket", {"subject": "S", "description": "D", "email": "x@y.test"})
    assert exc.value.retryable is False and "There is no contact matching the given email" in str(exc.value)
    assert API_KEY not in str(exc.value)


@pytest.mark.parametrize("status", [429, 502])
def test_rate_limits_and_server_errors_are_retryable(vendor, connect, status):
    connect_freshdesk(connect)
    vendor.route("POST", "/api/v2/tickets/1/reply", status=status, headers={"Retry-After": "30"})
    with pytest.raises(StepError) as exc:
        call("freshdesk.reply", {"ticket_id": 1, "body": "hi"})
    assert exc.value.retryable is True and exc.value.retry_after == 30.0


def test_results_never_carry_the_key_even_when_freshdesk_echoes_it(vendor, connect):
    connect_freshdesk(connect)
    vendor.route("POST", "/api/v2/tickets/1/reply", status=201, body={"id": 2, "ticket_id": 1, "created_at": API_KEY})
    assert API_KEY not in str(call("freshdesk.reply", {"ticket_id": 1, "body": "hi"}))


def test_test_runs_record_the_request_with_credentials_redacted_and_send_nothing(vendor, connect):
    connect_freshdesk(connect, base_url="")
    result = call("freshdesk.reply", {"ticket_id": 7, "body": "hi"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    assert result["would_send"]["url"] == "https://acme.freshdesk.com/api/v2/tickets/7/reply"
    assert result["would_send"]["headers"]["Authorization"] == "[redacted]" and API_KEY not in str(result)


def test_the_connection_test_reads_the_current_agent(vendor, connect):
    connect_freshdesk(connect)
    agent = {
        "id": 1,
        "available": True,
        "contact": {"name": "Rachel", "email": "rachel@acme.test"},
        "type": "support_agent",
    }
    vendor.route("GET", "/api/v2/agents/me", body=agent)
    result = call("freshdesk.current_agent", {})
    [request] = vendor.requests
    assert (request.method, request.path, request.headers["Authorization"]) == ("GET", "/api/v2/agents/me", BASIC)
    assert result == {"id": 1, "name": "Rachel", "email": "rachel@acme.test"}
