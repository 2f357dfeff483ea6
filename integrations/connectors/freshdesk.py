"""Freshdesk (API v2): create tickets and reply to them. Auth: HTTP Basic, the API key as user and "X" as password.

Freshdesk documents no idempotency header: a create retried after a lost answer may open a second ticket.
"""

from executions.engine.errors import StepError

from ..actions import register
from . import (
    CONNECTION,
    CONNECTION_ONLY,
    RestAction,
    Service,
    as_dict,
    base_url_field,
    basic,
    register_service,
    segment,
)

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
            "base_url": base_url_field("Leave empty for https://{domain}.freshdesk.com"),
        },
        test_action="freshdesk.current_agent",
    )
)
STATUSES = {"open": 2, "pending": 3, "resolved": 4, "closed": 5}
PRIORITIES = {"low": 1, "medium": 2, "high": 3, "urgent": 4}
EMAILS = {"type": "array", "items": {"type": "string", "format": "email"}}


class FreshdeskAction(RestAction):
    service = "freshdesk"
    category = "Support"

    def base_url(self, creds, ctx):
        return self.tenant_url(creds, "domain", ".freshdesk.com")

    def headers(self, creds, ctx):
        # Basic auth: the API key as user, "X" as password.
        api_key = self.credential(creds, "api_key", what="API key")
        return {"Authorization": f"Basic {basic(api_key, 'X')}", "Accept": "application/json"}


@register
class CreateTicket(FreshdeskAction):
    """Open a ticket for a requester (POST /api/v2/tickets)."""

    name = "freshdesk.create_ticket"
    example = {
        "subject": "{{trigger.subject}}",
        "description": "{{trigger.body}}",
        "email": "{{trigger.customer.email}}",
        "priority": "high",
        "status": "open",
    }
    label = "Freshdesk: create a ticket"
    endpoint = "/api/v2/tickets"
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
        body = as_dict(result.body)
        status = {v: k for k, v in STATUSES.items()}.get(body.get("status"), body.get("status"))
        return {"id": body.get("id"), "status": status, "requester_id": body.get("requester_id")}


@register
class Reply(FreshdeskAction):
    """Send a public reply on a ticket to its requester (POST /api/v2/tickets/{id}/reply)."""

    name = "freshdesk.reply"
    example = {"ticket_id": "{{trigger.ticket_id}}", "body": "Thanks, we are on it."}
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
        return f"/api/v2/tickets/{segment(inputs['ticket_id'])}/reply"

    def payload(self, inputs):
        keys = ("body", "from_email", "cc_emails", "bcc_emails")
        return {k: inputs[k] for k in keys if inputs.get(k) not in (None, "")}

    def parse(self, result, inputs):
        body = as_dict(result.body)
        return {"id": body.get("id"), "ticket_id": body.get("ticket_id"), "created_at": body.get("created_at")}


@register
class CurrentAgent(FreshdeskAction):
    """The agent whose API key the connection uses (used by "Test connection")."""

    name = "freshdesk.current_agent"
    example = {}
    label = "Freshdesk: check the API key"
    http_method = "GET"
    endpoint = "/api/v2/agents/me"
    read_only = True
    input_schema = CONNECTION_ONLY

    def parse(self, result, inputs):
        contact = result.body.get("contact") or {}
        return {"id": result.body.get("id"), "name": contact.get("name"), "email": contact.get("email")}
