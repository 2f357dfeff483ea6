"""Trello (REST API 1): create cards. Auth: the API key and a user token as `key` and `token` query parameters.

The key and token travel in the URL, so they are credentials in the query: the base class redacts them from
recorded requests by value and the HTTP client leaves queries out of error messages.
Trello documents no idempotency header: a create retried after a lost answer may add a second card.
"""

from executions.engine.errors import StepError

from ..actions import register
from . import ConnectorAction, Request, Service, register_service

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
            "base_url": {
                "label": "API base URL",
                "secret": False,
                "required": False,
                "help": "Leave empty for https://api.trello.com",
            },
        },
        test_action="trello.current_member",
    )
)
CONNECTION = {"type": "string", "title": "Connection"}


class TrelloAction(ConnectorAction):
    service = "trello"
    category = "Project Management"
    http_method = "POST"

    def build(self, inputs, creds, ctx):
        if not creds.get("api_key") or not creds.get("token"):
            raise StepError("trello: the connection needs an API key and a token")
        base = (creds.get("base_url") or "https://api.trello.com").rstrip("/")
        return Request(
            self.http_method,
            f"{base}/1{self.path(inputs)}",
            headers={"Accept": "application/json"},
            params={"key": creds["api_key"], "token": creds["token"], **self.query(inputs)},
        )

    def path(self, inputs: dict) -> str:
        raise NotImplementedError

    def query(self, inputs: dict) -> dict:
        return {}


@register
class CreateCard(TrelloAction):
    """Add a card to a list (POST /1/cards); Trello takes the card's fields as query parameters."""

    name = "trello.create_card"
    label = "Trello: create a card"
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

    def path(self, inputs):
        return "/cards"

    def query(self, inputs):
        fields = {k: inputs[k] for k in ("idList", "name", "desc", "due", "pos") if inputs.get(k) not in (None, "")}
        if inputs.get("idMembers"):
            fields["idMembers"] = ",".join(inputs["idMembers"])  # Trello's arrays are comma-separated IDs
        return fields

    def parse(self, result, inputs):
        card = result.body if isinstance(result.body, dict) else {}
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
    label = "Trello: check the key and token"
    http_method = "GET"
    read_only = True
    input_schema = {"type": "object", "properties": {"connection": CONNECTION}}

    def path(self, inputs):
        return "/members/me"

    def parse(self, result, inputs):
        member = result.body if isinstance(result.body, dict) else {}
        return {"id": member.get("id"), "username": member.get("username"), "full_name": member.get("fullName")}
