"""SendGrid: the exact v3 Mail Send request, the X-Message-Id result, errors and secrets kept out of every output."""

import pytest

from executions.engine.errors import StepError
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
KEY = "SG.canary-key.0123456789abcdef"
SENDER = "Support <support@example.com>"


def test_send_mail_posts_personalizations_content_and_the_idempotency_key(vendor, connect):
    connect("sendgrid", api_key=KEY, from_email=SENDER)
    vendor.route("POST", "/v3/mail/send", status=202, body="", headers={"X-Message-Id": "W86EgYT6SQKk0lRflfLRsA"})
    result = call(
        "sendgrid.send_mail",
        {
            "to": "Ada <ada@example.com>, bob@example.com",
            "cc": ["carol@example.com"],
            "subject": "Your ticket #42",
            "text": "We are on it.",
            "html": "<p>We are on it.</p>",
            "reply_to": "help@example.com",
        },
    )
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "personalizations": [
            {
                "to": [{"email": "ada@example.com", "name": "Ada"}, {"email": "bob@example.com"}],
                "cc": [{"email": "carol@example.com"}],
            }
        ],
        "from": {"email": "support@example.com", "name": "Support"},
        "custom_args": {"faos_idempotency_key": "faos-1-step-1"},
        "subject": "Your ticket #42",
        "reply_to": {"email": "help@example.com"},
        "content": [
            {"type": "text/plain", "value": "We are on it."},
            {"type": "text/html", "value": "<p>We are on it.</p>"},
        ],
    }
    assert result == {"status": 202, "message_id": "W86EgYT6SQKk0lRflfLRsA"}


def test_send_mail_with_a_dynamic_template_sends_no_content_and_the_template_data(vendor, connect):
    connect("sendgrid", api_key=KEY)
    vendor.route("POST", "/v3/mail/send", status=202, body="", headers={"X-Message-Id": "abc"})
    call(
        "sendgrid.send_mail",
        {
            "to": ["ada@example.com"],
            "from_email": "billing@example.com",
            "template_id": "d-13b8f94fbcae4ec6b75270d6cb59f932",
            "dynamic_template_data": {"first_name": "Ada", "total": "42.00"},
        },
    )
    body = vendor.requests[0].json()
    assert body["template_id"] == "d-13b8f94fbcae4ec6b75270d6cb59f932" and "content" not in body
    assert body["from"] == {"email": "billing@example.com"}
    assert body["personalizations"] == [
        {"to": [{"email": "ada@example.com"}], "dynamic_template_data": {"first_name": "Ada", "total": "42.00"}}
    ]


def test_send_mail_without_a_sender_or_body_fails_before_sending(vendor, connect):
    connect("sendgrid", api_key=KEY)
    with pytest.raises(StepError, match="no sender"):
        call("sendgrid.send_mail", {"to": "a@example.com", "text": "hi"})
    with pytest.raises(StepError, match="text or HTML body"):
        call("sendgrid.send_mail", {"to": "a@example.com", "from_email": "b@example.com"})
    assert vendor.requests == []


def test_a_400_is_not_retryable_and_carries_sendgrids_message(vendor, connect):
    connect("sendgrid", api_key=KEY, from_email=SENDER)
    error = {"errors": [{"message": "The from address does not match a verified Sender Identity.", "field": "from"}]}
    vendor.route("POST", "/v3/mail/send", status=403, body=error)
    with pytest.raises(StepError) as exc:
        call("sendgrid.send_mail", {"to": "a@example.com", "text": "hi"})
    assert not exc.value.retryable and "does not match a verified Sender Identity" in str(exc.value)


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_5xx_are_retryable(vendor, connect, status):
    connect("sendgrid", api_key=KEY, from_email=SENDER)
    vendor.route("POST", "/v3/mail/send", status=status, body={"errors": [{"message": "try later"}]})
    with pytest.raises(StepError) as exc:
        call("sendgrid.send_mail", {"to": "a@example.com", "text": "hi"})
    assert exc.value.retryable


def test_the_api_key_never_appears_in_an_error_even_when_sendgrid_echoes_it(vendor, connect):
    connect("sendgrid", api_key=KEY, from_email=SENDER)
    vendor.route("POST", "/v3/mail/send", status=401, body={"errors": [{"message": f"invalid key {KEY}"}]})
    with pytest.raises(StepError) as exc:
        call("sendgrid.send_mail", {"to": "a@example.com", "text": "hi"})
    assert KEY not in str(exc.value) and "[redacted]" in str(exc.value)


def test_the_api_key_never_appears_in_a_result(vendor, connect):
    connect("sendgrid", api_key=KEY)
    vendor.route("GET", "/v3/scopes", body={"scopes": ["mail.send"], "echo": KEY})
    assert KEY not in str(call("sendgrid.check_key", {}))


def test_test_runs_record_the_request_with_the_key_redacted_and_send_nothing(vendor, connect):
    connect("sendgrid", api_key=KEY, from_email=SENDER)
    result = call("sendgrid.send_mail", {"to": "a@example.com", "text": "hi"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["method"] == "POST" and sent["url"].endswith("/v3/mail/send")
    assert sent["headers"]["Authorization"] == "[redacted]" and KEY not in str(result)


def test_check_key_reads_the_scopes(vendor, connect):
    connect("sendgrid", api_key=KEY)
    vendor.route("GET", "/v3/scopes", body={"scopes": ["mail.send", "alerts.read"]})
    assert call("sendgrid.check_key", {}) == {"scopes": 2, "can_send_mail": True}
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", "/v3/scopes")
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def test_test_runs_work_without_any_connection(vendor):
    result = call(
        "sendgrid.send_mail", {"to": "a@example.com", "from_email": "b@example.com", "text": "hi"}, test_mode=True
    )
    assert result["would_send"]["url"] == "https://api.sendgrid.com/v3/mail/send"
