"""Microsoft Teams: post a card to a channel through a webhook (Workflows "When a Teams webhook request is received",
or a legacy Incoming Webhook). The webhook URL is the credential: whoever has it can post, so it stays secret."""

import re
from urllib.parse import parse_qs, urlsplit

from executions.engine.errors import StepError

from .. import http
from ..actions import register
from . import CONNECTION, ConnectorAction, Request, Service, register_service

MASK = "[webhook URL]"

register_service(
    Service(
        name="teams",
        label="Microsoft Teams",
        category="Communication",
        docs_url="https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using",
        credential_fields={
            "webhook_url": {
                "label": "Webhook URL",
                "secret": True,
                "required": True,
                "help": (
                    'From a Workflows flow "Post to a channel when a webhook request is received" (or a legacy '
                    "Incoming Webhook). Test connection is not offered: the webhook's only call posts a message."
                ),
            },
        },
        test_action=None,  # the webhook's only call has a side effect (it posts)
    )
)


def adaptive_card(inputs: dict) -> dict:
    """A message with one Adaptive Card attachment: the format Workflows webhooks accept."""
    body = [{"type": "TextBlock", "text": inputs["title"], "weight": "Bolder", "size": "Medium", "wrap": True}]
    if inputs.get("text"):
        body.append({"type": "TextBlock", "text": inputs["text"], "wrap": True})
    if inputs.get("facts"):
        facts = [{"title": str(name), "value": str(value)} for name, value in inputs["facts"].items()]
        body.append({"type": "FactSet", "facts": facts})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if inputs.get("link_url"):
        card["actions"] = [{"type": "Action.OpenUrl", "title": link_title(inputs), "url": inputs["link_url"]}]
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


def message_card(inputs: dict) -> dict:
    """A legacy Office 365 connector card, for Incoming Webhooks that predate Workflows."""
    card = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": inputs["title"],
        "title": inputs["title"],
    }
    if inputs.get("text"):
        card["text"] = inputs["text"]
    if inputs.get("facts"):
        card["sections"] = [{"facts": [{"name": str(k), "value": str(v)} for k, v in inputs["facts"].items()]}]
    if inputs.get("link_url"):
        target = [{"os": "default", "uri": inputs["link_url"]}]
        card["potentialAction"] = [{"@type": "OpenUri", "name": link_title(inputs), "targets": target}]
    return card


def link_title(inputs: dict) -> str:
    return inputs.get("link_title") or "Open"


def mask(message: str, webhook_url: str) -> str:
    """The message without the webhook URL or its secret parts: the path (legacy) and the signature (Workflows)."""
    parts = urlsplit(webhook_url)
    signatures = [v for values in parse_qs(parts.query).values() for v in values if len(v) >= 8]
    forms = [webhook_url, http.safe_url(webhook_url), *signatures]
    if len(parts.path) > 1:
        forms.append(parts.path)
    for form in sorted(forms, key=len, reverse=True):  # longest first: a part must not break a whole form
        if form and form != "<invalid URL>":
            message = message.replace(form, MASK)
    return message


@register
class PostMessage(ConnectorAction):
    """POST the webhook URL: a card with a title, text, optional facts and a link button."""

    name = "teams.post_message"
    example = {
        "title": "Invoice {{trigger.invoice.number}} escalated",
        "text": "Still unpaid after two reminders.",
        "facts": {"Amount": "{{trigger.invoice.amount}}"},
    }
    label = "Microsoft Teams: post a message"
    service = "teams"
    category = "Communication"
    input_schema = {
        "type": "object",
        "required": ["title"],
        "properties": {
            "connection": CONNECTION,
            "title": {"type": "string", "title": "Title", "minLength": 1},
            "text": {"type": "string", "title": "Text", "description": "Markdown is rendered"},
            "facts": {
                "type": "object",
                "title": "Facts",
                "description": 'Label → value pairs shown as a table, e.g. {"Ticket": "#42"}',
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            },
            "link_url": {"type": "string", "title": "Button link", "format": "uri"},
            "link_title": {"type": "string", "title": "Button label", "default": "Open"},
            "card_format": {
                "type": "string",
                "title": "Card format",
                "enum": ["adaptive", "messagecard"],
                "default": "adaptive",
                "description": "Workflows webhooks take Adaptive Cards only; messagecard is for old Incoming Webhooks",
            },
        },
    }

    def build(self, inputs, creds, ctx):
        # Teams webhooks accept no idempotency key: a retried step may post twice.
        url = self.credential(creds, "webhook_url", what="webhook URL")
        payload = message_card(inputs) if inputs.get("card_format") == "messagecard" else adaptive_card(inputs)
        return Request("POST", url, json=payload, headers={"Content-Type": "application/json"})

    def describe(self, inputs, ctx):
        described = super().describe(inputs, ctx)
        return {**described, "url": MASK}

    def run(self, inputs, ctx):
        url = str(ctx.credentials(self.service, inputs.get("connection")).get("webhook_url") or "")
        try:
            return super().run(inputs, ctx)
        except StepError as exc:  # errors quote the URL in forms the base class's redaction does not catch
            raise StepError(
                mask(str(exc), url), retryable=exc.retryable, retry_after=exc.retry_after, detail=exc.detail
            ) from None

    def check_body(self, result):
        """Legacy connectors answer 200 with the failure as text; success is a number ("1")."""
        text = result.body.strip() if isinstance(result.body, str) else ""
        if result.status != 200 or not text or text.isdigit():
            return
        code = re.search(r"HTTP error (\d{3})", text)
        retryable = bool(code) and (int(code[1]) in (408, 429) or int(code[1]) >= 500)
        raise StepError(f"teams: the webhook refused the message: {text[:300]}", retryable=retryable)

    def parse(self, result, inputs):
        return {"status": result.status, "posted": True}
