"""Salesforce (REST API, pinned to v60.0): create and update leads and contacts, upsert any record by external id.

Auth: an OAuth2 access token as a Bearer header, from Sign in with Salesforce or pasted with the instance URL.
Every org has its own API host: the token response's `instance_url` when the sign-in stored it, else `base_url`.
"""

from executions.engine.errors import StepError

from ..actions import register
from . import CONNECTION, CONNECTION_ONLY, OAuth, RestAction, Service, as_dict, register_service, segment

API_VERSION = "v60.0"
PLACEHOLDER_HOST = "https://MyDomainName.my.salesforce.com"  # test runs without a connection record this
RECORD_ID = "^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$"  # 15- or 18-character Salesforce ids; never a path fragment
API_NAME = "^[A-Za-z][A-Za-z0-9_]*$"

SALESFORCE = register_service(
    Service(
        name="salesforce",
        label="Salesforce",
        category="CRM",
        docs_url="https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/",
        credential_fields={
            "access_token": {
                "label": "Access token, or use Sign in with Salesforce",
                "secret": True,
                "required": False,
                "help": "A pasted token also needs the instance URL below.",
            },
            "client_id": {
                "label": "Connected app consumer key (for Sign in with Salesforce)",
                "secret": False,
                "required": False,
                "help": "Setup → App Manager → your connected app; scopes api and refresh_token.",
            },
            "client_secret": {
                "label": "Connected app consumer secret",
                "secret": True,
                "required": False,
                "help": "Shown next to the consumer key.",
            },
            "oauth_base_url": {
                "label": "Login URL",
                "secret": False,
                "required": False,
                "help": "Leave empty for https://login.salesforce.com; https://test.salesforce.com for sandboxes.",
            },
            "base_url": {
                "label": "Instance URL",
                "secret": False,
                "required": False,
                "help": "Your org, e.g. https://yourcompany.my.salesforce.com (the sign-in's instance_url wins).",
            },
        },
        test_action="salesforce.limits",
        credential_sets=(("access_token", "base_url"), ("client_id", "client_secret")),
        oauth=OAuth(
            authorize_url="https://login.salesforce.com/services/oauth2/authorize",
            token_url="https://login.salesforce.com/services/oauth2/token",
            scopes=("api", "refresh_token"),
            keep=("instance_url",),  # every org has its own API host
            default_lifetime=900,  # no expires_in; sessions last at least 15 minutes, so refresh after that
        ),
    )
)

LEAD_FIELDS = {
    "first_name": ("FirstName", "First name", {}),
    "last_name": ("LastName", "Last name", {}),
    "company": ("Company", "Company", {}),
    "email": ("Email", "Email", {"format": "email"}),
    "phone": ("Phone", "Phone", {}),
    "title": ("Title", "Job title", {}),
    "lead_source": ("LeadSource", "Lead source", {"description": "A value of the LeadSource picklist, e.g. Web"}),
    "status": ("Status", "Status", {"description": "A value of the Lead Status picklist, e.g. Open - Not Contacted"}),
    "description": ("Description", "Description", {}),
}
CONTACT_FIELDS = {
    "first_name": ("FirstName", "First name", {}),
    "last_name": ("LastName", "Last name", {}),
    "email": ("Email", "Email", {"format": "email"}),
    "phone": ("Phone", "Phone", {}),
    "mobile_phone": ("MobilePhone", "Mobile phone", {}),
    "title": ("Title", "Job title", {}),
    "account_id": ("AccountId", "Account ID", {"pattern": RECORD_ID, "description": "The account it belongs to"}),
    "lead_source": ("LeadSource", "Lead source", {}),
    "description": ("Description", "Description", {}),
}
EXTRA_FIELDS = {
    "type": "object",
    "title": "Other fields",
    "description": 'More fields by API name, custom ones included, e.g. {"Industry": "Retail", "Score__c": 7}',
}


def schema(fields: dict, required: list[str], **extra) -> dict:
    """An input schema from a field table: friendly names, titles, and the extra properties given."""
    properties = {"connection": CONNECTION, **extra}
    for key, (_, title, more) in fields.items():
        properties[key] = {"type": "string", "title": title, **more}
    properties["fields"] = EXTRA_FIELDS
    return {"type": "object", "required": required, "properties": properties}


def record(fields: dict, inputs: dict) -> dict:
    """The sObject body: the friendly inputs under their API names, then the raw `fields`."""
    body = {api: inputs[key] for key, (api, _, _) in fields.items() if inputs.get(key) not in (None, "")}
    return {**body, **(inputs.get("fields") or {})}


def instance(creds: dict, test_mode: bool) -> str:
    """The org's API host: the sign-in's instance_url, else the pasted instance URL."""
    base = creds.get("instance_url") or creds.get("base_url")
    if base:
        return base.rstrip("/")
    if test_mode:
        return PLACEHOLDER_HOST
    raise StepError("salesforce: the connection has no instance URL; set base_url or use Sign in with Salesforce")


class SalesforceAction(RestAction):
    service = "salesforce"
    category = "CRM"
    json_content_type = True

    def base_url(self, creds, ctx):
        return f"{instance(creds, ctx.test_mode)}/services/data/{API_VERSION}/"

    def headers(self, creds, ctx):
        hint = "paste one or use Sign in with Salesforce"
        token = self.credential(creds, "access_token", what="access token", hint=hint)
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


class CreateRecord(SalesforceAction):
    """POST sobjects/<type>/: Salesforce has no idempotency header for sObject create (use upsert to dedupe)."""

    sobject = ""
    fields: dict = {}

    def path(self, inputs):
        return f"sobjects/{self.sobject}/"

    def payload(self, inputs):
        return record(self.fields, inputs)

    def parse(self, result, inputs):
        return {"id": result.body.get("id"), "success": result.body.get("success", True), "object": self.sobject}


class UpdateRecord(SalesforceAction):
    """PATCH sobjects/<type>/<id>: only the fields given change; Salesforce answers 204 No Content."""

    http_method = "PATCH"
    sobject = ""
    fields: dict = {}

    def build(self, inputs, creds, ctx):
        # An empty update is refused before the connection is looked at.
        if not record(self.fields, inputs):
            raise StepError(f"salesforce: nothing to update on {self.sobject} {inputs['id']}: give at least one field")
        return super().build(inputs, creds, ctx)

    def path(self, inputs):
        return f"sobjects/{self.sobject}/{inputs['id']}"

    def payload(self, inputs):
        return record(self.fields, inputs)

    def parse(self, result, inputs):
        return {"id": inputs["id"], "updated": True, "object": self.sobject}


ID_INPUT = {"type": "string", "title": "Record ID", "pattern": RECORD_ID, "description": "15 or 18 characters"}


@register
class CreateLead(CreateRecord):
    """Create a lead (LastName and Company are required by Salesforce)."""

    name = "salesforce.create_lead"
    example = {
        "last_name": "{{trigger.lead.last_name}}",
        "company": "{{trigger.lead.company}}",
        "email": "{{trigger.lead.email}}",
        "lead_source": "Web",
    }
    label = "Salesforce: create a lead"
    sobject = "Lead"
    fields = LEAD_FIELDS
    input_schema = schema(LEAD_FIELDS, ["last_name", "company"])


@register
class UpdateLead(UpdateRecord):
    """Update the given fields of a lead."""

    name = "salesforce.update_lead"
    example = {"id": "{{trigger.lead_id}}", "status": "Working - Contacted"}
    label = "Salesforce: update a lead"
    sobject = "Lead"
    fields = LEAD_FIELDS
    input_schema = schema(LEAD_FIELDS, ["id"], id=ID_INPUT)


@register
class CreateContact(CreateRecord):
    """Create a contact (LastName is required by Salesforce)."""

    name = "salesforce.create_contact"
    example = {
        "first_name": "{{trigger.first_name}}",
        "last_name": "{{trigger.last_name}}",
        "email": "{{trigger.email}}",
    }
    label = "Salesforce: create a contact"
    sobject = "Contact"
    fields = CONTACT_FIELDS
    input_schema = schema(CONTACT_FIELDS, ["last_name"])


@register
class UpdateContact(UpdateRecord):
    """Update the given fields of a contact."""

    name = "salesforce.update_contact"
    example = {"id": "{{trigger.contact_id}}", "phone": "{{trigger.phone}}"}
    label = "Salesforce: update a contact"
    sobject = "Contact"
    fields = CONTACT_FIELDS
    input_schema = schema(CONTACT_FIELDS, ["id"], id=ID_INPUT)


@register
class UpsertRecord(SalesforceAction):
    """Create or update any record by an external id field: safe to retry, unlike a create."""

    name = "salesforce.upsert_record"
    example = {
        "object": "Account",
        "external_id_field": "External_Id__c",
        "external_id": "{{trigger.account.id}}",
        "fields": {"Name": "{{trigger.account.name}}"},
    }
    label = "Salesforce: create or update a record by external ID"
    http_method = "PATCH"
    input_schema = {
        "type": "object",
        "required": ["object", "external_id_field", "external_id", "fields"],
        "properties": {
            "connection": CONNECTION,
            "object": {"type": "string", "title": "Object", "pattern": API_NAME, "default": "Contact"},
            "external_id_field": {
                "type": "string",
                "title": "External ID field",
                "pattern": API_NAME,
                "description": "API name of a field marked External ID, e.g. Customer_Number__c",
            },
            "external_id": {"type": "string", "title": "External ID value", "minLength": 1},
            "fields": {**EXTRA_FIELDS, "title": "Fields", "description": "Field values by API name"},
        },
    }

    def path(self, inputs):
        return f"sobjects/{inputs['object']}/{inputs['external_id_field']}/{segment(inputs['external_id'])}"

    def payload(self, inputs):
        return dict(inputs["fields"])

    def check_body(self, result):
        if result.status == 300:  # the external id matched several records: nothing was written
            raise StepError("salesforce: the external ID matches more than one record; nothing was changed")

    def parse(self, result, inputs):
        body = as_dict(result.body)
        return {"id": body.get("id"), "created": body.get("created", result.status == 201), "object": inputs["object"]}


@register
class Limits(SalesforceAction):
    """GET limits/: the org's API limits, a cheap read used by "Test connection"."""

    name = "salesforce.limits"
    example = {}
    label = "Salesforce: check the connection (API limits)"
    http_method = "GET"
    endpoint = "limits/"
    read_only = True
    input_schema = CONNECTION_ONLY

    def parse(self, result, inputs):
        daily = result.body.get("DailyApiRequests") or {}
        return {"daily_api_requests_max": daily.get("Max"), "daily_api_requests_remaining": daily.get("Remaining")}
