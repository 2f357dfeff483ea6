"""Jira Cloud: the exact REST v3 requests (ADF bodies, Basic email:token), errors and secrets kept out."""

import base64

import pytest

from executions.engine.errors import StepError
from integrations.connectors.jira import adf
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
TOKEN = "ATATT-jira-canary-0123456789"
EMAIL = "ops@acme.test"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()


def connect_jira(connect, **credentials):
    return connect("jira", site="acme", email=EMAIL, api_token=TOKEN, **credentials)


def test_plain_text_becomes_adf_paragraphs_with_hard_breaks():
    assert adf("First line\nsecond line\n\n\nNext paragraph\n") == {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "First line"},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "second line"},
                ],
            },
            {"type": "paragraph", "content": [{"type": "text", "text": "Next paragraph"}]},
        ],
    }


def test_create_issue_posts_the_fields_with_an_adf_description(vendor, connect):
    connect_jira(connect)
    created = {
        "id": "10000",
        "key": "OPS-24",
        "self": "https://acme.atlassian.net/rest/api/3/issue/10000",
        "transition": {"status": 200, "errorCollection": {"errorMessages": [], "errors": {}}},
    }
    vendor.route("POST", "/rest/api/3/issue", status=201, body=created)
    inputs = {
        "project_key": "OPS",
        "issue_type": "Bug",
        "summary": "Checkout fails",
        "description": "Customers see a 500.",
        "labels": ["checkout"],
        "assignee_account_id": "5b10a2844c20165700ede21g",
        "priority": "High",
        "due_date": "2025-07-01",
    }
    result = call("jira.create_issue", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/rest/api/3/issue")
    assert request.headers["Authorization"] == BASIC and request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "fields": {
            "project": {"key": "OPS"},
            "issuetype": {"name": "Bug"},
            "summary": "Checkout fails",
            "description": {
                "type": "doc",
                "version": 1,
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Customers see a 500."}]}],
            },
            "assignee": {"id": "5b10a2844c20165700ede21g"},
            "priority": {"name": "High"},
            "duedate": "2025-07-01",
            "labels": ["checkout"],
        }
    }
    assert result == {"id": "10000", "key": "OPS-24", "url": "https://acme.atlassian.net/browse/OPS-24"}


def test_create_issue_defaults_to_a_task_and_sends_only_what_is_given(vendor, connect):
    connect_jira(connect)
    vendor.route("POST", "/rest/api/3/issue", status=201, body={"id": "1", "key": "OPS-1"})
    call("jira.create_issue", {"project_key": "OPS", "summary": "Tidy up", "description": ""})
    assert vendor.requests[0].json() == {
        "fields": {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "Tidy up"}
    }


def test_add_comment_posts_an_adf_body_to_the_issue(vendor, connect):
    connect_jira(connect)
    comment = {
        "self": "https://acme.atlassian.net/rest/api/3/issue/10010/comment/10000",
        "id": "10000",
        "author": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Mia Krystof"},
        "body": adf("Deployed the fix."),
        "created": "2021-01-17T12:34:00.000+0000",
    }
    vendor.route("POST", "/rest/api/3/issue/OPS-24/comment", status=201, body=comment)
    result = call("jira.add_comment", {"issue_key": "OPS-24", "body": "Deployed the fix."})
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/rest/api/3/issue/OPS-24/comment")
    assert request.headers["Authorization"] == BASIC
    assert request.json() == {"body": adf("Deployed the fix.")}
    assert result == {
        "id": "10000",
        "created": "2021-01-17T12:34:00.000+0000",
        "url": "https://acme.atlassian.net/browse/OPS-24?focusedCommentId=10000",
    }


def test_a_4xx_is_not_retryable_and_carries_jiras_field_errors_without_the_token(vendor, connect):
    connect_jira(connect)
    body = {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue.", "x": TOKEN}}
    vendor.route("POST", "/rest/api/3/issue", status=400, body=body)
    with pytest.raises(StepError) as exc:
        call("jira.create_issue", {"project_key": "OPS", "summary": "x"})
    assert exc.value.retryable is False and "You must specify a summary of the issue." in str(exc.value)
    assert TOKEN not in str(exc.value)


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_and_server_errors_are_retryable(vendor, connect, status):
    connect_jira(connect)
    vendor.route("POST", "/rest/api/3/issue/OPS-1/comment", status=status, headers={"Retry-After": "5"})
    with pytest.raises(StepError) as exc:
        call("jira.add_comment", {"issue_key": "OPS-1", "body": "hi"})
    assert exc.value.retryable is True and exc.value.retry_after == 5.0


def test_results_never_carry_the_token_even_when_jira_echoes_it(vendor, connect):
    connect_jira(connect)
    vendor.route("POST", "/rest/api/3/issue", status=201, body={"id": "1", "key": TOKEN})
    assert TOKEN not in str(call("jira.create_issue", {"project_key": "OPS", "summary": "x"}))


def test_test_runs_record_the_request_with_credentials_redacted_and_send_nothing(vendor, connect):
    connect_jira(connect, base_url="")
    result = call("jira.add_comment", {"issue_key": "OPS-1", "body": "hi"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    assert result["would_send"]["url"] == "https://acme.atlassian.net/rest/api/3/issue/OPS-1/comment"
    assert result["would_send"]["headers"]["Authorization"] == "[redacted]" and TOKEN not in str(result)


def test_the_connection_test_reads_myself(vendor, connect):
    connect_jira(connect)
    me = {
        "accountId": "5b10a2844c20165700ede21g",
        "accountType": "atlassian",
        "displayName": "Mia Krystof",
        "active": True,
        "timeZone": "Australia/Sydney",
    }
    vendor.route("GET", "/rest/api/3/myself", body=me)
    result = call("jira.myself", {})
    [request] = vendor.requests
    assert (request.method, request.path, request.headers["Authorization"]) == ("GET", "/rest/api/3/myself", BASIC)
    assert result == {"account_id": "5b10a2844c20165700ede21g", "display_name": "Mia Krystof", "active": True}
