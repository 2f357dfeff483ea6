"""Microsoft Teams: the exact webhook payloads (Adaptive Card, MessageCard), 200-with-error answers, the secret URL."""

import pytest

from executions.engine.errors import StepError
from integrations.connectors import get_service
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
SIG = "canarySig0123456789abcdefXYZ"
WORKFLOW_PATH = "/workflows/4f1c9a/triggers/manual/paths/invoke"
WORKFLOW_QUERY = f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
LEGACY_PATH = "/webhookb2/0b1c-canary-guid@7d2e/IncomingWebhook/5a6b7c8d9e/3f4e"
INPUTS = {
    "title": "Ticket #42 escalated",
    "text": "Customer **Acme** is waiting.",
    "facts": {"Priority": "High", "Age (h)": 5},
    "link_url": "https://support.example.com/tickets/42",
    "link_title": "Open ticket",
}


@pytest.fixture
def workflow(vendor, connect):
    connect("teams", webhook_url=f"{vendor.url}{WORKFLOW_PATH}{WORKFLOW_QUERY}")
    return f"{vendor.url}{WORKFLOW_PATH}{WORKFLOW_QUERY}"


def test_post_message_sends_an_adaptive_card_to_the_workflow_webhook(vendor, workflow):
    vendor.route("POST", WORKFLOW_PATH, status=202, body="")
    result = call("teams.post_message", INPUTS)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", f"{WORKFLOW_PATH}{WORKFLOW_QUERY}")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "Ticket #42 escalated",
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": "Customer **Acme** is waiting.", "wrap": True},
                        {
                            "type": "FactSet",
                            "facts": [{"title": "Priority", "value": "High"}, {"title": "Age (h)", "value": "5"}],
                        },
                    ],
                    "actions": [
                        {
                            "type": "Action.OpenUrl",
                            "title": "Open ticket",
                            "url": "https://support.example.com/tickets/42",
                        }
                    ],
                },
            }
        ],
    }
    assert result == {"status": 202, "posted": True}


def test_a_title_alone_makes_a_one_block_card(vendor, workflow):
    vendor.route("POST", WORKFLOW_PATH, status=202, body="")
    call("teams.post_message", {"title": "Deploy done"})
    content = vendor.requests[0].json()["attachments"][0]["content"]
    assert len(content["body"]) == 1 and "actions" not in content


def test_messagecard_format_for_legacy_incoming_webhooks(vendor, connect):
    connect("teams", webhook_url=f"{vendor.url}{LEGACY_PATH}")
    vendor.route("POST", LEGACY_PATH, body="1")
    result = call("teams.post_message", {**INPUTS, "card_format": "messagecard"})
    assert vendor.requests[0].path == LEGACY_PATH
    assert vendor.requests[0].json() == {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": "Ticket #42 escalated",
        "title": "Ticket #42 escalated",
        "text": "Customer **Acme** is waiting.",
        "sections": [{"facts": [{"name": "Priority", "value": "High"}, {"name": "Age (h)", "value": "5"}]}],
        "potentialAction": [
            {
                "@type": "OpenUri",
                "name": "Open ticket",
                "targets": [{"os": "default", "uri": "https://support.example.com/tickets/42"}],
            }
        ],
    }
    assert result == {"status": 200, "posted": True}


@pytest.mark.parametrize(("code", "retryable"), [("400", False), ("429", True), ("503", True)])
def test_a_legacy_200_with_a_delivery_failure_is_a_step_error(vendor, connect, code, retryable):
    connect("teams", webhook_url=f"{vendor.url}{LEGACY_PATH}")
    failure = f"Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error {code}"
    vendor.route("POST", LEGACY_PATH, body=f"{failure} with ContextId tcid=0,server=msgapi,cv=x.0..")
    with pytest.raises(StepError) as exc:
        call("teams.post_message", {"title": "x"})
    assert exc.value.retryable is retryable and f"HTTP error {code}" in str(exc.value)


def test_a_400_is_not_retryable_and_carries_the_webhooks_message(vendor, workflow):
    error = {"error": {"code": "TriggerInputSchemaMismatch", "message": "The input body for trigger 'manual' …"}}
    vendor.route("POST", WORKFLOW_PATH, status=400, body=error)
    with pytest.raises(StepError) as exc:
        call("teams.post_message", {"title": "x"})
    assert not exc.value.retryable and "TriggerInputSchemaMismatch" in str(exc.value)


@pytest.mark.parametrize("status", [429, 500])
def test_429_and_5xx_are_retryable(vendor, workflow, status):
    vendor.route("POST", WORKFLOW_PATH, status=status, body={"error": {"code": "Throttled"}})
    with pytest.raises(StepError) as exc:
        call("teams.post_message", {"title": "x"})
    assert exc.value.retryable


def test_the_webhook_url_and_its_signature_never_appear_in_an_error_even_when_echoed(vendor, workflow):
    vendor.route("POST", WORKFLOW_PATH, status=401, body={"error": {"message": f"bad sig {SIG} for {workflow}"}})
    with pytest.raises(StepError) as exc:
        call("teams.post_message", {"title": "x"})
    message = str(exc.value)
    assert SIG not in message and WORKFLOW_PATH not in message and "bad sig" in message


def test_a_legacy_webhook_path_never_appears_in_an_error(vendor, connect):
    connect("teams", webhook_url=f"{vendor.url}{LEGACY_PATH}")
    vendor.route("POST", LEGACY_PATH, status=404, body={"error": "not found"})
    with pytest.raises(StepError) as exc:
        call("teams.post_message", {"title": "x"})
    assert "canary-guid" not in str(exc.value) and "answered HTTP 404" in str(exc.value)


def test_test_runs_record_the_card_with_the_url_redacted_and_send_nothing(vendor, workflow):
    result = call("teams.post_message", INPUTS, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["method"] == "POST" and sent["url"] == "[webhook URL]" and sent["json"]["type"] == "message"
    assert SIG not in str(result) and WORKFLOW_PATH not in str(result)


def test_the_webhook_must_pass_the_ssrf_guard(vendor, connect, settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = []
    connect("teams", webhook_url=f"{vendor.url}{LEGACY_PATH}")
    with pytest.raises(StepError, match="not allow-listed") as exc:
        call("teams.post_message", {"title": "x"})
    assert not exc.value.retryable and vendor.requests == []


def test_there_is_no_connection_test_because_the_only_call_posts():
    service = get_service("teams")
    assert (
        service.test_action is None
        and "Test connection is not offered" in service.credential_fields["webhook_url"]["help"]
    )


def test_a_live_run_without_a_connection_names_what_is_missing(vendor):
    with pytest.raises(StepError, match="no teams connection"):
        call("teams.post_message", {"title": "x"})
