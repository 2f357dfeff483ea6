"""Slack: the exact Web API requests, Slack's ok:false errors, and secrets kept out of every output."""

import pytest

from executions.engine.errors import StepError
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
TOKEN = "xoxb-canary-0123456789"


def test_post_message_sends_the_documented_request(vendor, connect):
    connect("slack", bot_token=TOKEN)
    vendor.route("POST", "/api/chat.postMessage", body={"ok": True, "channel": "C1", "ts": "1700.1"})
    result = call("slack.post_message", {"channel": "#support", "text": "Ticket 42 escalated"})
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/api/chat.postMessage")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.json() == {"channel": "#support", "text": "Ticket 42 escalated"}
    assert result == {"channel": "C1", "ts": "1700.1"}


def test_invite_joins_user_ids_with_commas(vendor, connect):
    connect("slack", bot_token=TOKEN)
    vendor.route("POST", "/api/conversations.invite", body={"ok": True, "channel": {"id": "C9"}})
    assert call("slack.invite_to_channel", {"channel": "C9", "users": ["U1", "U2"]}) == {"channel": "C9"}
    assert vendor.requests[0].json() == {"channel": "C9", "users": "U1,U2"}


@pytest.mark.parametrize(("error", "retryable"), [("channel_not_found", False), ("ratelimited", True)])
def test_ok_false_is_a_step_error_classified_for_retries(vendor, connect, error, retryable):
    connect("slack", bot_token=TOKEN)
    vendor.route("POST", "/api/chat.postMessage", body={"ok": False, "error": error})
    with pytest.raises(StepError) as exc:
        call("slack.post_message", {"channel": "#x", "text": "hi"})
    assert error in str(exc.value) and exc.value.retryable is retryable


def test_http_429_is_retryable_with_retry_after_and_never_echoes_the_token(vendor, connect):
    connect("slack", bot_token=TOKEN)
    vendor.route("POST", "/api/chat.postMessage", status=429, headers={"Retry-After": "3"}, body={"echo": TOKEN})
    with pytest.raises(StepError) as exc:
        call("slack.post_message", {"channel": "#x", "text": "hi"})
    assert exc.value.retryable and exc.value.retry_after == 3.0 and TOKEN not in str(exc.value)


def test_test_runs_record_the_request_with_credentials_redacted(vendor, connect):
    connect("slack", bot_token=TOKEN)
    result = call("slack.post_message", {"channel": "#x", "text": "hi"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    assert result["would_send"]["headers"]["Authorization"] == "[redacted]" and TOKEN not in str(result)


def test_test_runs_work_without_any_connection(vendor):
    result = call("slack.post_message", {"channel": "#x", "text": "hi"}, test_mode=True)
    assert result["would_send"]["url"] == "https://slack.com/api/chat.postMessage"


def test_a_live_run_without_a_connection_names_what_is_missing(vendor):
    with pytest.raises(StepError, match="no slack connection"):
        call("slack.post_message", {"channel": "#x", "text": "hi"})


@pytest.mark.django_db(transaction=True)
def test_an_agent_classifies_a_ticket_and_the_slack_step_run_shows_the_exact_request(vendor, connect):
    from executions.services import execution_start
    from tests.factories import workflow_with_steps
    from workflows.models import Agent
    from workflows.services import workflow_activate

    connect("slack", bot_token=TOKEN)
    vendor.route("POST", "/api/chat.postMessage", body={"ok": True, "channel": "C1", "ts": "1700.1"})
    Agent.objects.create(name="Triage", role="Support", allowed_actions=["classify"])
    classify = {"agent": "Triage", "action": "classify", "input": {"text": "{{trigger.subject}}"}}
    classify |= {"labels": ["low", "critical"], "rules": {"critical": ["outage"]}, "default": "low"}
    post = {"action": "slack.post_message", "inputs": {"channel": "#support", "text": "{{triage.result.label}}: hi"}}
    workflow = workflow_with_steps(
        [
            {"key": "triage", "name": "Classify Ticket", "kind": "agent", "config": classify},
            {"key": "notify", "name": "Post To Slack", "config": post},
        ]
    )
    workflow_activate(workflow=workflow)
    execution = execution_start(workflow=workflow, input={"subject": "Checkout outage"})
    execution.refresh_from_db()
    notify = execution.step_runs.get(step_key="notify")
    assert execution.status == "succeeded", execution.error
    [sent] = notify.requests
    assert (sent["method"], sent["url"]) == ("POST", f"{vendor.url}/api/chat.postMessage")
    assert sent["json"] == {"channel": "#support", "text": "critical: hi"} == vendor.requests[0].json()
    assert sent["headers"]["Authorization"] == "[redacted]" and TOKEN not in str(notify.requests)
    assert notify.output == {"channel": "C1", "ts": "1700.1"}


def test_a_credential_in_an_ok_false_error_is_redacted(vendor, connect):
    connect("slack", bot_token=TOKEN)
    vendor.route("POST", "/api/chat.postMessage", body={"ok": False, "error": f"invalid_auth for {TOKEN}"})
    with pytest.raises(StepError) as exc:
        call("slack.post_message", {"channel": "#x", "text": "hi"})
    assert TOKEN not in str(exc.value) and "invalid_auth" in str(exc.value)
