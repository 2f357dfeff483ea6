"""Freshdesk (API v2): create tickets and reply to them. Auth: HTTP Basic, the API key as user and "X" as password.

Freshdesk documents no idempotency header: a create retried after a lost answer may open a second ticket.
"""

import base64
from urllib.parse import quote

from executions.engine.errors import StepError

from ..actions import register
from . import ConnectorAction, Request, Service, register_service

FRESHDESK = register_service(
    Service(
        name="freshdesk",
        label="Freshdesk",
        category="Support",
        docs_url="https://developers.freshdesk.com/api/",
        credential_fields={
            "domain": {
                "label": "Helpdesk domain",
                "secret": False,
                "required": True,
                "help": "acme for https://acme.freshdesk.com",
            },
            "api_key": {
                "label": "API key",
                "secret": True,
                "required": True,
                "help": "Profile settings → View API key",
            },
            "base_url": {
                "label": "API base URL",
                "secret": False,
                "required": False,
                "help": "Leave empty for https://{domain}.freshdesk.com",
            },
        },
        test_action="freshdesk.current_agent",
    )
)
CONNECTION = {"type": "string", "title": "Connection"}
STATUSES = {"open": 2, "pending": 3, "resolved": 4, "closed": 5}
PRIORITIES = {"low": 1, "medium": 2, "high": 3, "urgent": 4}
EMAILS = {"type": "array", "items": {"type": "string", "format": "email"}}


def base_url(creds: dict) -> str:
    """The helpdesk's API root: the base_url override, else https://{domain}.freshdesk.com."""
    if creds.get("base_url"):
        return creds["base_url"].rstrip("/")
    domain = str(creds.get("domain") or "").strip().removeprefix("https://").removeprefix("http://")
    domain = domain.split(".freshdesk.com")[0].strip("/")
    # Anything that could move the host elsewhere would send the API key there too.
    if not domain or any(c in domain for c in "/?#@:\\ "):
        raise StepError("freshdesk: set the connection's domain (acme for https://acme.freshdesk.com)")
    return f"https://{domain}.freshdesk.com"


def authorization(creds: dict) -> str:
    if not creds.get("api_key"):
        raise StepError("freshdesk: the connection has no API key")
    return "Basic " + base64.b64encode(f"{creds['api_key']}:X".encode()).decode()


class FreshdeskAction(ConnectorAction):
    service = "freshdesk"
    category = "Support"
    http_method = "POST"

    def build(self, inputs, creds, ctx):
        return Request(
            self.http_method,
            f"{base_url(creds)}{self.path(inputs)}",
            headers={"Authorization": authorization(creds), "Accept": "application/json"},
            json=self.payload(inputs),
        )

    def path(self, inputs: dict) -> str:
        raise NotImplementedError

    def payload(self, inputs: dict) -> dict | None:
        return None


@register
class CreateTicket(FreshdeskAction):
    """Open a ticket for a requester (POST /api/v2/tickets)."""

    name = "freshdesk.create_ticket"
    label = "Freshdesk: create a ticket"
    input_schema = {
        "type": "object",
        "required": ["subject", "description"],
        "properties": {
            "connection": CONNECTION,
            "subject": {"type": "string", "title": "Subject", "minLength": 1},
            "description": {"type": "string", "title": "Description", "minLength": 1, "description": "HTML allowed"},
            "email": {
                "type": "string",
                "title": "Requester email",
                "format": "email",
                "description": "A new contact is created if none has this email; or give the requester ID",
            },
            "requester_id": {"type": "integer", "title": "Requester ID"},
            "name": {"type": "string", "title": "Requester name"},
            "status": {"type": "string", "title": "Status", "enum": list(STATUSES), "default": "open"},
            "priority": {"type": "string", "title": "Priority", "enum": list(PRIORITIES), "default": "low"},
            "type": {"type": "string", "title": "Type", "description": "One of the helpdesk's ticket types"},
            "tags": {"type": "array", "title": "Tags", "items": {"type": "string"}},
            "cc_emails": {**EMAILS, "title": "CC emails"},
            "group_id": {"type": "integer", "title": "Group ID"},
            "responder_id": {"type": "integer", "title": "Agent ID", "description": "The agent to assign"},
        },
    }
    OPTIONAL = ("email", "requester_id", "name", "type", "tags", "cc_emails", "group_id", "responder_id")

    def path(self, inputs):
        return "/api/v2/tickets"

    def payload(self, inputs):
        if not inputs.get("email") and not inputs.get("requester_id"):
            raise StepError("freshdesk: set the requester's email or requester ID")
        ticket = {
            "subject": inputs["subject"],
            "description": inputs["description"],
            "status": STATUSES[inputs.get("status", "open")],
            "priority": PRIORITIES[inputs.get("priority", "low")],
        }
        return ticket | {k: inputs[k] for k in self.OPTIONAL if inputs.get(k) not in (None, "")}

    def parse(self, result, inputs):
        body = result.body if isinstance(result.body, dict) else {}
        status = {v: k for k, v in STATUSES.items()}.get(body.get("status"), body.get("status"))
        return {"id": body.get("id"), "status": status, "requester_id": body.get("requester_id")}


@register
class Reply(FreshdeskAction):
    """Send a public reply on a ticket to its requester (POST /api/v2/tickets/{id}/reply)."""

    name = "freshdesk.reply"
    label = "Freshdesk: reply to a ticket"
    input_schema = {
        "type": "object",
        "required": ["ticket_id", "body"],
        "properties": {
            "connection": CONNECTION,
            "ticket_id": {"type": ["integer", "string"], "title": "Ticket ID"},
            "body": {"type": "string", "title": "Reply", "minLength": 1, "description": "HTML allowed"},
            "from_email": {"type": "string", "title": "From email", "format": "email"},
            "cc_emails": {**EMAILS, "title": "CC emails"},
            "bcc_emails": {**EMAILS, "title": "BCC emails"},
        },
    }

    def path(self, inputs):
        return f"/api/v2/tickets/{quote(str(inputs['ticket_id']), safe='')}/reply"

    def payload(self, inputs):
        keys = ("body", "from_email", "cc_emails", "bcc_emails")
        return {k: inputs[k] for k in keys if inputs.get(k) not in (None, "")}

    def parse(self, result, inputs):
        body = result.body if isinstance(result.body, dict) else {}
        return {"id": body.get("id"), "ticket_id": body.get("ticket_id"), "created_at": body.get("created_at")}


@register
class CurrentAgent(FreshdeskAction):
    """The agent whose API key the connection uses (used by "Test connection")."""

    name = "freshdesk.current_agent"
    label = "Freshdesk: check the API key"
    http_method = "GET"
    read_only = True
    input_schema = {"type": "object", "properties": {"connection": CONNECTION}}

    def path(self, inputs):
        return "/api/v2/agents/me"

    def parse(self, result, inputs):
        contact = result.body.get("contact") or {}
        return {"id": result.body.get("id"), "name": contact.get("name"), "email": contact.get("email")}
