"""HubSpot (CRM API v3): upsert a contact by email, create a deal. Auth: a Bearer token (private app or OAuth).

HubSpot has no idempotency header: the contact upsert is idempotent by email by design; a retried deal
creation after a lost answer can create a second deal.
"""

from executions.engine.errors import StepError

from ..actions import register
from . import CONNECTION, CONNECTION_ONLY, OAuth, RestAction, Service, base_url_field, register_service

HUBSPOT = register_service(
    Service(
        name="hubspot",
        label="HubSpot",
        category="CRM",
        docs_url="https://developers.hubspot.com/docs/api-reference/overview",
        credential_fields={
            "private_app_token": {
                "label": "Private app access token (pat-…), or use Sign in with HubSpot",
                "secret": True,
                "required": False,
                "help": "Settings → Integrations → Private apps; scopes crm.objects.contacts.write, "
                "crm.objects.deals.write.",
            },
            "client_id": {
                "label": "OAuth client ID (for Sign in with HubSpot)",
                "secret": False,
                "required": False,
                "help": "Your public app's Auth page.",
            },
            "client_secret": {
                "label": "OAuth client secret",
                "secret": True,
                "required": False,
                "help": "Next to the client ID.",
            },
            "oauth_base_url": {
                "label": "OAuth base URL (tests, proxies)",
                "secret": False,
                "required": False,
                "help": "Leave empty for HubSpot's own.",
            },
            "base_url": base_url_field("Leave empty for https://api.hubapi.com"),
        },
        test_action="hubspot.account_info",
        credential_sets=(("private_app_token",), ("client_id", "client_secret")),
        oauth=OAuth(
            authorize_url="https://app.hubspot.com/oauth/authorize",
            token_url="https://api.hubapi.com/oauth/v1/token",
            scopes=(
                "oauth",
                "crm.objects.contacts.read",
                "crm.objects.contacts.write",
                "crm.objects.deals.read",
                "crm.objects.deals.write",
            ),
        ),
    )
)
DEAL_TO_CONTACT = 3  # HubSpot-defined association type id: deal → contact
CONTACT_PROPERTIES = {
    "firstname": "First name",
    "lastname": "Last name",
    "phone": "Phone",
    "company": "Company",
    "jobtitle": "Job title",
    "lifecyclestage": "Lifecycle stage",
}


def first_error(body) -> str:
    """The message of the first error a batch answer carries."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return (errors or [{}])[0].get("message") or "unknown error"


class HubSpotAction(RestAction):
    service = "hubspot"
    category = "CRM"
    default_base_url = "https://api.hubapi.com"
    json_content_type = True

    def headers(self, creds, ctx):
        # A pasted private app token, or the one Sign in with HubSpot stored.
        hint = "paste a private app token or use Sign in with HubSpot"
        token = self.credential(creds, "private_app_token", "access_token", what="token", hint=hint)
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


@register
class UpsertContact(HubSpotAction):
    """Create the contact with this email, or update it when it exists (batch upsert, idProperty email)."""

    name = "hubspot.upsert_contact"
    example = {
        "email": "{{trigger.lead.email}}",
        "firstname": "{{trigger.lead.first_name}}",
        "company": "{{trigger.lead.company}}",
        "lifecyclestage": "lead",
    }
    label = "HubSpot: create or update a contact by email"
    endpoint = "/crm/v3/objects/contacts/batch/upsert"
    input_schema = {
        "type": "object",
        "required": ["email"],
        "properties": {
            "connection": CONNECTION,
            "email": {"type": "string", "title": "Email", "format": "email", "minLength": 3},
            **{key: {"type": "string", "title": title} for key, title in CONTACT_PROPERTIES.items()},
            "properties": {
                "type": "object",
                "title": "Other properties",
                "description": 'More contact properties by internal name, e.g. {"city": "Berlin"}',
            },
        },
    }

    def payload(self, inputs):
        properties = {"email": inputs["email"]}  # also set on creation, not only matched on
        properties |= {k: inputs[k] for k in CONTACT_PROPERTIES if inputs.get(k) not in (None, "")}
        properties |= {k: str(v) for k, v in (inputs.get("properties") or {}).items()}
        return {"inputs": [{"id": inputs["email"], "idProperty": "email", "properties": properties}]}

    def check_body(self, result):
        # A 207 Multi-Status carries per-record errors; with one record, no result means it failed.
        if not isinstance(result.body, dict) or not result.body.get("results"):
            raise StepError(f"hubspot: the contact was not saved: {first_error(result.body)}")

    def parse(self, result, inputs):
        contact = result.body["results"][0]
        return {"id": contact.get("id"), "email": inputs["email"], "created": bool(contact.get("new"))}


@register
class CreateDeal(HubSpotAction):
    """Create a deal in a pipeline stage, associated with a contact when one is given."""

    name = "hubspot.create_deal"
    example = {
        "dealname": "{{trigger.company}} renewal",
        "dealstage": "appointmentscheduled",
        "amount": "{{trigger.amount}}",
    }
    label = "HubSpot: create a deal"
    endpoint = "/crm/v3/objects/deals"
    input_schema = {
        "type": "object",
        "required": ["dealname", "dealstage"],
        "properties": {
            "connection": CONNECTION,
            "dealname": {"type": "string", "title": "Deal name", "minLength": 1},
            "amount": {"type": ["number", "string"], "title": "Amount", "description": "In the deal's currency"},
            "dealstage": {
                "type": "string",
                "title": "Deal stage",
                "description": "Internal stage id, e.g. appointmentscheduled (Settings → Objects → Deals)",
            },
            "pipeline": {"type": "string", "title": "Pipeline", "default": "default"},
            "closedate": {"type": "string", "title": "Close date", "format": "date"},
            "contact_id": {"type": "string", "title": "Contact ID", "description": "Associate the deal with it"},
            "properties": {"type": "object", "title": "Other properties", "description": "By internal name"},
        },
    }

    def payload(self, inputs):
        properties = {"dealname": inputs["dealname"], "dealstage": inputs["dealstage"]}
        properties["pipeline"] = inputs.get("pipeline") or "default"
        for key in ("amount", "closedate"):
            if inputs.get(key) not in (None, ""):
                properties[key] = str(inputs[key])
        properties |= {k: str(v) for k, v in (inputs.get("properties") or {}).items()}
        body = {"properties": properties}
        if inputs.get("contact_id"):
            kind = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": DEAL_TO_CONTACT}
            body["associations"] = [{"to": {"id": str(inputs["contact_id"])}, "types": [kind]}]
        return body

    def parse(self, result, inputs):
        properties = result.body.get("properties") or {}
        return {
            "id": result.body.get("id"),
            "dealname": properties.get("dealname"),
            "dealstage": properties.get("dealstage"),
            "pipeline": properties.get("pipeline"),
        }


@register
class AccountInfo(HubSpotAction):
    """GET account-info/v3/details: the portal behind the token (used by "Test connection")."""

    name = "hubspot.account_info"
    example = {}
    label = "HubSpot: check the connection (account details)"
    http_method = "GET"
    endpoint = "/account-info/v3/details"
    read_only = True
    input_schema = CONNECTION_ONLY

    def parse(self, result, inputs):
        body = result.body
        return {
            "portal_id": body.get("portalId"),
            "account_type": body.get("accountType"),
            "ui_domain": body.get("uiDomain"),
        }
