"""Pipedrive (API v2; v1 only for users/me): create persons and deals. Auth: the user's API token, sent in the
`x-api-token` header as Pipedrive's authentication guide documents (not the legacy api_token query parameter).

Pipedrive deprecated POST /v1/persons and /v1/deals (out of support since 1 Aug 2026) for /api/v2/persons and
/api/v2/deals, used here. Pipedrive has no idempotency header: a create retried after a lost answer can duplicate.
"""

from executions.engine.errors import StepError

from ..actions import register
from . import CONNECTION, CONNECTION_ONLY, RestAction, Service, as_dict, base_url_field, register_service

PIPEDRIVE = register_service(
    Service(
        name="pipedrive",
        label="Pipedrive",
        category="CRM",
        docs_url="https://developers.pipedrive.com/docs/api/v1",
        credential_fields={
            "api_token": {
                "label": "API token",
                "secret": True,
                "required": True,
                "help": "Pipedrive → Personal preferences → API (one token per user and company).",
            },
            "base_url": base_url_field(
                "Leave empty for https://api.pipedrive.com, or use https://yourcompany.pipedrive.com"
            ),
        },
        test_action="pipedrive.me",
    )
)
ID = {"type": "integer", "minimum": 1}


def contact_points(value) -> list[dict]:
    """Pipedrive's emails/phones list from one address or several: the first is primary."""
    values = [value] if isinstance(value, str) else list(value)
    return [{"value": v, "primary": i == 0, "label": "work"} for i, v in enumerate(values) if v]


class PipedriveAction(RestAction):
    service = "pipedrive"
    category = "CRM"
    default_base_url = "https://api.pipedrive.com"
    json_content_type = True
    returns: tuple[str, ...] = ("id",)  # the keys of the answer's `data` a step gets

    def headers(self, creds, ctx):
        return {"x-api-token": self.credential(creds, "api_token", what="API token"), "Accept": "application/json"}

    def check_body(self, result):
        body = as_dict(result.body)
        if body.get("success") is False:
            raise StepError(f"pipedrive: {body.get('error') or 'the request failed'}")

    def parse(self, result, inputs):
        data = result.body.get("data") or {}
        return {key: data.get(key) for key in self.returns}


@register
class CreatePerson(PipedriveAction):
    """Add a person (contact) with email and phone, optionally in an organization."""

    name = "pipedrive.create_person"
    example = {"name": "{{trigger.lead.name}}", "email": "{{trigger.lead.email}}"}
    label = "Pipedrive: create a person"
    endpoint = "/api/v2/persons"
    returns = ("id", "name", "org_id", "owner_id")
    input_schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "connection": CONNECTION,
            "name": {"type": "string", "title": "Name", "minLength": 1},
            "email": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                "title": "Email",
                "description": "One address or several; the first is primary",
            },
            "phone": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
                "title": "Phone",
                "description": "One number or several; the first is primary",
            },
            "org_id": {**ID, "title": "Organization ID"},
            "owner_id": {**ID, "title": "Owner (user ID)", "description": "Defaults to the token's user"},
        },
    }

    def payload(self, inputs):
        body = {"name": inputs["name"]}
        if inputs.get("email"):
            body["emails"] = contact_points(inputs["email"])
        if inputs.get("phone"):
            body["phones"] = contact_points(inputs["phone"])
        return body | {k: inputs[k] for k in ("org_id", "owner_id") if inputs.get(k)}


@register
class CreateDeal(PipedriveAction):
    """Add a deal with its value, for a person, in a pipeline stage."""

    name = "pipedrive.create_deal"
    example = {"title": "{{trigger.company}} deal", "value": 5000, "currency": "EUR"}
    label = "Pipedrive: create a deal"
    endpoint = "/api/v2/deals"
    returns = ("id", "title", "value", "currency", "stage_id", "status")
    input_schema = {
        "type": "object",
        "required": ["title"],
        "properties": {
            "connection": CONNECTION,
            "title": {"type": "string", "title": "Title", "minLength": 1},
            "value": {"type": "number", "title": "Value", "minimum": 0},
            "currency": {
                "type": "string",
                "title": "Currency",
                "pattern": "^[A-Z]{3}$",
                "description": "ISO 4217 code, e.g. EUR; defaults to the company's",
            },
            "person_id": {**ID, "title": "Person ID"},
            "org_id": {**ID, "title": "Organization ID"},
            "stage_id": {**ID, "title": "Stage ID", "description": "Defaults to the first stage of the pipeline"},
            "expected_close_date": {"type": "string", "title": "Expected close date", "format": "date"},
        },
    }

    def payload(self, inputs):
        keys = ("title", "value", "currency", "person_id", "org_id", "stage_id", "expected_close_date")
        return {k: inputs[k] for k in keys if inputs.get(k) not in (None, "")}


@register
class Me(PipedriveAction):
    """GET users/me: the token's user and company (used by "Test connection")."""

    name = "pipedrive.me"
    example = {}
    label = "Pipedrive: check the connection (current user)"
    http_method = "GET"
    endpoint = "/api/v1/users/me"
    read_only = True
    returns = ("id", "name", "company_id", "company_domain")
    input_schema = CONNECTION_ONLY
