"""Zendesk Support (Ticketing API): create and update tickets, add comments.

Auth: `{email}/token` and an API token as HTTP Basic, or an OAuth access token as a Bearer header.
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

ZENDESK = register_service(
    Service(
        name="zendesk",
        label="Zendesk",
        category="Support",
        docs_url="https://developer.zendesk.com/api-reference/ticketing/introduction/",
        credential_fields={
            "subdomain": {
                "label": "Subdomain",
                "secret": False,
                "required": True,
                "help": "acme for https://acme.zendesk.com",
            },
            "email": {
                "label": "Agent email",
                "secret": False,
                "required": False,
                "help": "With an API token: the agent the token acts as",
            },
            "api_token": {
                "label": "API token",
                "secret": True,
                "required": False,
                "help": "Admin Center → Apps and integrations → APIs → Zendesk API",
            },
            "access_token": {
                "label": "OAuth access token",
                "secret": True,
                "required": False,
                "help": "Instead of an email and API token",
            },
            "base_url": base_url_field("Leave empty for https://{subdomain}.zendesk.com"),
        },
        test_action="zendesk.current_user",
        credential_sets=(("subdomain", "email", "api_token"), ("subdomain", "access_token")),
    )
)
TICKET_ID = {"type": ["integer", "string"], "title": "Ticket ID", "description": "The ticket's number"}
PRIORITY = {"type": "string", "title": "Priority", "enum": ["urgent", "high", "normal", "low"]}
TAGS = {"type": "array", "title": "Tags", "items": {"type": "string"}}
ASSIGNEE = {"type": "integer", "title": "Assignee ID", "description": "The agent's user ID"}
GROUP = {"type": "integer", "title": "Group ID"}


def authorization(creds: dict) -> str:
    """An OAuth access token as Bearer, else `{email}/token:{api_token}` as Basic."""
    if creds.get("access_token"):
        return f"Bearer {creds['access_token']}"
    if creds.get("email") and creds.get("api_token"):
        return f"Basic {basic(creds['email'] + '/token', creds['api_token'])}"
    raise StepError("zendesk: the connection needs an email and API token, or an OAuth access token")


def ticket_path(inputs: dict) -> str:
    return f"/api/v2/tickets/{segment(inputs['ticket_id'])}.json"


def ticket_result(body: dict) -> dict:
    """Id, status and the agent-interface link of the ticket in a Zendesk answer."""
    ticket = as_dict(body).get("ticket") or {}
    api_url = ticket.get("url") or ""
    url = f"{api_url.split('/api/v2/')[0]}/agent/tickets/{ticket.get('id')}" if api_url else None
    return {"id": ticket.get("id"), "status": ticket.get("status"), "url": url}


class ZendeskAction(RestAction):
    service = "zendesk"
    category = "Support"
    http_method = "PUT"

    def base_url(self, creds, ctx):
        return self.tenant_url(creds, "subdomain", ".zendesk.com")

    def headers(self, creds, ctx):
        # Zendesk documents Idempotency-Key for ticket creation only; updates set fields (a replay is harmless).
        return {"Authorization": authorization(creds), "Accept": "application/json"}

    def path(self, inputs: dict) -> str:
        return self.endpoint or ticket_path(inputs)  # the ticket's own path unless the action names another


@register
class CreateTicket(ZendeskAction):
    """Create a ticket whose first comment is the description (POST /api/v2/tickets.json)."""

    name = "zendesk.create_ticket"
    example = {
        "subject": "{{trigger.subject}}",
        "body": "{{trigger.body}}",
        "requester_email": "{{trigger.customer.email}}",
        "priority": "high",
    }
    label = "Zendesk: create a ticket"
    http_method = "POST"
    endpoint = "/api/v2/tickets.json"
    input_schema = {
        "type": "object",
        "required": ["subject", "body"],
        "properties": {
            "connection": CONNECTION,
            "subject": {"type": "string", "title": "Subject", "minLength": 1},
            "body": {"type": "string", "title": "Description", "minLength": 1, "description": "The first comment"},
            "public": {
                "type": "boolean",
                "title": "Public",
                "default": True,
                "description": "Visible to the requester",
            },
            "requester_email": {"type": "string", "title": "Requester email", "format": "email"},
            "requester_name": {"type": "string", "title": "Requester name", "description": "Needed for new users"},
            "priority": PRIORITY,
            "type": {"type": "string", "title": "Type", "enum": ["problem", "incident", "question", "task"]},
            "tags": TAGS,
            "assignee_id": ASSIGNEE,
            "group_id": GROUP,
        },
    }

    def headers(self, creds, ctx):
        return {**super().headers(creds, ctx), "Idempotency-Key": ctx.idempotency_key}

    def payload(self, inputs):
        comment = {"body": inputs["body"]}
        if "public" in inputs:
            comment["public"] = inputs["public"]
        ticket = {"subject": inputs["subject"], "comment": comment}
        requester = {k: inputs[f"requester_{k}"] for k in ("email", "name") if inputs.get(f"requester_{k}")}
        if requester:
            ticket["requester"] = requester
        ticket |= {k: inputs[k] for k in ("priority", "type", "tags", "assignee_id", "group_id") if k in inputs}
        return {"ticket": ticket}

    def parse(self, result, inputs):
        return ticket_result(result.body)


@register
class UpdateTicket(ZendeskAction):
    """Change a ticket's status, priority, tags, assignee or group (PUT /api/v2/tickets/{id}.json)."""

    name = "zendesk.update_ticket"
    example = {"ticket_id": "{{trigger.ticket_id}}", "status": "solved"}
    label = "Zendesk: update a ticket"
    input_schema = {
        "type": "object",
        "required": ["ticket_id"],
        "properties": {
            "connection": CONNECTION,
            "ticket_id": TICKET_ID,
            "status": {"type": "string", "title": "Status", "enum": ["open", "pending", "hold", "solved", "closed"]},
            "priority": PRIORITY,
            "tags": {**TAGS, "description": "Replaces the ticket's tags"},
            "assignee_id": ASSIGNEE,
            "group_id": GROUP,
        },
    }
    FIELDS = ("status", "priority", "tags", "assignee_id", "group_id")

    def payload(self, inputs):
        ticket = {k: inputs[k] for k in self.FIELDS if k in inputs}
        if not ticket:
            raise StepError(f"zendesk: nothing to update; set one of {', '.join(self.FIELDS)}")
        return {"ticket": ticket}

    def parse(self, result, inputs):
        return ticket_result(result.body)


@register
class AddComment(ZendeskAction):
    """Add a public reply or an internal note to a ticket (PUT the ticket with a comment)."""

    name = "zendesk.add_comment"
    example = {"ticket_id": "{{trigger.ticket_id}}", "body": "We are looking into it.", "public": True}
    label = "Zendesk: add a comment"
    input_schema = {
        "type": "object",
        "required": ["ticket_id", "body"],
        "properties": {
            "connection": CONNECTION,
            "ticket_id": TICKET_ID,
            "body": {"type": "string", "title": "Comment", "minLength": 1},
            "public": {
                "type": "boolean",
                "title": "Public",
                "default": True,
                "description": "Off: an internal note only agents see",
            },
        },
    }

    # No idempotency key here (Zendesk has none for updates): a retry after a lost answer may repeat the comment.
    def payload(self, inputs):
        return {"ticket": {"comment": {"body": inputs["body"], "public": inputs.get("public", True)}}}

    def parse(self, result, inputs):
        events = (as_dict(result.body).get("audit") or {}).get("events") or []
        comment_id = next((e.get("id") for e in events if e.get("type") == "Comment"), None)
        return {**ticket_result(result.body), "comment_id": comment_id}


@register
class CurrentUser(ZendeskAction):
    """The user the credentials act as (used by "Test connection")."""

    name = "zendesk.current_user"
    example = {}
    label = "Zendesk: check the credentials"
    http_method = "GET"
    endpoint = "/api/v2/users/me.json"
    read_only = True
    input_schema = CONNECTION_ONLY

    def check_body(self, result):
        # Zendesk answers unauthenticated calls to users/me with 200 and the anonymous user (no id).
        if not (as_dict(result.body).get("user") or {}).get("id"):
            raise StepError("zendesk: the credentials were not accepted (Zendesk answered as the anonymous user)")

    def parse(self, result, inputs):
        user = result.body["user"]
        return {"id": user.get("id"), "name": user.get("name"), "email": user.get("email"), "role": user.get("role")}
