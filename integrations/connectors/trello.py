"""Trello (REST API 1): create cards. Auth: the API key and a user token as `key` and `token` query parameters.

The key and token travel in the URL, so they are credentials in the query: the base class redacts them from
recorded requests by value and the HTTP client leaves queries out of error messages.
Trello documents no idempotency header: a create retried after a lost answer may add a second card.
"""

from dataclasses import replace

from executions.engine.errors import StepError

from ..actions import register
from . import CONNECTION, CONNECTION_ONLY, RestAction, Service, as_dict, base_url_field, register_service

TRELLO = register_service(
    Service(
        name="trello",
        label="Trello",
        category="Project Management",
        docs_url="https://developer.atlassian.com/cloud/trello/rest/",
        credential_fields={
            "api_key": {
                "label": "API key",
                "secret": True,
                "required": True,
                "help": "trello.com/power-ups/admin → your Power-Up → API key",
            },
            "token": {
                "label": "Token",
                "secret": True,
                "required": True,
                "help": "The user token from the authorize link next to the API key",
            },
            "base_url": base_url_field("Leave empty for https://api.trello.com"),
        },
        test_action="trello.current_member",
    )
)


class TrelloAction(RestAction):
    service = "trello"
    category = "Project Management"
    default_base_url = "https://api.trello.com"

    def build(self, inputs, creds, ctx):
        request = super().build(inputs, creds, ctx)
        # The key and token travel as the first query parameters, ahead of the action's own.
        return replace(request, params={"key": creds["api_key"], "token": creds["token"], **(request.params or {})})

    def base_url(self, creds, ctx):
        return f"{super().base_url(creds, ctx)}/1"

    def headers(self, creds, ctx):
        if not creds.get("api_key") or not creds.get("token"):
            raise StepError("trello: the connection needs an API key and a token")
        return {"Accept": "application/json"}


@register
class CreateCard(TrelloAction):
    """Add a card to a list (POST /1/cards); Trello takes the card's fields as query parameters."""

    name = "trello.create_card"
    example = {
        "idList": "5f1a2b3c4d5e6f7a8b9c0d1e",
        "name": "Welcome pack for {{trigger.employee.name}}",
        "pos": "bottom",
    }
    label = "Trello: create a card"
    endpoint = "/cards"
    input_schema = {
        "type": "object",
        "required": ["idList"],
        "properties": {
            "connection": CONNECTION,
            "idList": {"type": "string", "title": "List ID", "minLength": 1, "description": "The list to add to"},
            "name": {"type": "string", "title": "Name"},
            "desc": {"type": "string", "title": "Description"},
            "due": {"type": "string", "title": "Due", "format": "date-time"},
            "idMembers": {"type": "array", "title": "Member IDs", "items": {"type": "string"}},
            "pos": {"type": "string", "title": "Position", "enum": ["top", "bottom"], "default": "bottom"},
        },
    }

    def params(self, inputs):
        fields = {k: inputs[k] for k in ("idList", "name", "desc", "due", "pos") if inputs.get(k) not in (None, "")}
        if inputs.get("idMembers"):
            fields["idMembers"] = ",".join(inputs["idMembers"])  # Trello's arrays are comma-separated IDs
        return fields

    def parse(self, result, inputs):
        card = as_dict(result.body)
        return {
            "id": card.get("id"),
            "name": card.get("name"),
            "url": card.get("shortUrl") or card.get("url"),
            "list_id": card.get("idList"),
        }


@register
class CurrentMember(TrelloAction):
    """The member the token belongs to (used by "Test connection")."""

    name = "trello.current_member"
    example = {}
    label = "Trello: check the key and token"
    http_method = "GET"
    endpoint = "/members/me"
    read_only = True
    input_schema = CONNECTION_ONLY

    def parse(self, result, inputs):
        member = as_dict(result.body)
        return {"id": member.get("id"), "username": member.get("username"), "full_name": member.get("fullName")}
