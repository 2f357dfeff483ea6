"""Mailchimp (Marketing API 3.0): upsert an audience member, tag a member. Auth: Basic, any user, the API key."""

import hashlib
import re

from executions.engine.errors import StepError

from ..actions import register
from . import (
    CONNECTION,
    CONNECTION_ONLY,
    ConnectorAction,
    Request,
    Service,
    as_dict,
    base_url_field,
    register_service,
    segment,
)

DATA_CENTER = re.compile(r"^[a-z]+[0-9]+$")
MEMBER_STATUSES = ["subscribed", "unsubscribed", "cleaned", "pending", "transactional"]

register_service(
    Service(
        name="mailchimp",
        label="Mailchimp",
        category="Email",
        docs_url="https://mailchimp.com/developer/marketing/api/",
        credential_fields={
            "api_key": {
                "label": "API key",
                "secret": True,
                "required": True,
                "help": "Account → Extras → API keys; ends in your data centre, e.g. …-us21",
            },
            "base_url": base_url_field(
                "Leave empty for https://<dc>.api.mailchimp.com, the data centre taken from the key"
            ),
        },
        test_action="mailchimp.ping",
    )
)


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def base_url(creds: dict) -> str:
    """The base URL, or the data centre's host named by the key's suffix (…-us21 → us21.api.mailchimp.com)."""
    if creds.get("base_url"):
        return creds["base_url"].rstrip("/")
    key = creds.get("api_key") or ""
    if key.startswith("<"):  # a test run's placeholder credentials
        return "https://<dc>.api.mailchimp.com"
    dc = key.rsplit("-", 1)[-1] if "-" in key else ""
    if not DATA_CENTER.match(dc):
        raise StepError("mailchimp: the API key should end in its data centre (…-us21); paste the whole key")
    return f"https://{dc}.api.mailchimp.com"


class MailchimpAction(ConnectorAction):
    service = "mailchimp"
    category = "Email"

    def request(self, method: str, path: str, creds: dict, **kwargs) -> Request:
        # Mailchimp has no idempotency header; the member calls here are idempotent by nature (PUT upsert, tag state).
        return Request(method, f"{base_url(creds)}/3.0{path}", auth=("faos", creds.get("api_key") or ""), **kwargs)


def member_path(inputs: dict) -> str:
    return f"/lists/{segment(inputs['list_id'])}/members/{subscriber_hash(inputs['email'])}"


@register
class UpsertMember(MailchimpAction):
    """PUT /lists/{list_id}/members/{hash}: add the address to the audience, or update it if present."""

    name = "mailchimp.upsert_member"
    example = {
        "list_id": "a1b2c3d4e5",
        "email": "{{trigger.customer.email}}",
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "{{trigger.customer.first_name}}"},
    }
    label = "Mailchimp: add or update an audience member"
    input_schema = {
        "type": "object",
        "required": ["list_id", "email"],
        "properties": {
            "connection": CONNECTION,
            "list_id": {"type": "string", "title": "Audience ID", "minLength": 1},
            "email": {"type": "string", "title": "E-mail", "format": "email", "minLength": 3},
            "status_if_new": {
                "type": "string",
                "title": "Status if new",
                "enum": MEMBER_STATUSES,
                "default": "subscribed",
                "description": "Use pending to send a double opt-in e-mail",
            },
            "status": {"type": "string", "title": "Status (also for existing members)", "enum": MEMBER_STATUSES},
            "merge_fields": {
                "type": "object",
                "title": "Merge fields",
                "description": 'By merge tag, e.g. {"FNAME": "Ada"}',
            },
        },
    }

    def build(self, inputs, creds, ctx):
        body = {"email_address": inputs["email"].strip(), "status_if_new": inputs.get("status_if_new") or "subscribed"}
        for key in ("status", "merge_fields"):
            if inputs.get(key):
                body[key] = inputs[key]
        return self.request("PUT", member_path(inputs), creds, json=body)

    def parse(self, result, inputs):
        body = as_dict(result.body)
        keys = ("id", "email_address", "status", "list_id", "web_id")
        return {key: body.get(key) for key in keys}


@register
class TagMember(MailchimpAction):
    """POST /lists/{list_id}/members/{hash}/tags: add tags to a member (or remove them)."""

    name = "mailchimp.tag_member"
    example = {"list_id": "a1b2c3d4e5", "email": "{{trigger.customer.email}}", "tags": ["vip"]}
    label = "Mailchimp: tag an audience member"
    input_schema = {
        "type": "object",
        "required": ["list_id", "email", "tags"],
        "properties": {
            "connection": CONNECTION,
            "list_id": {"type": "string", "title": "Audience ID", "minLength": 1},
            "email": {"type": "string", "title": "E-mail", "format": "email", "minLength": 3},
            "tags": {
                "title": "Tags",
                "description": "Tag names, comma-separated or a list",
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            },
            "remove": {"type": "boolean", "title": "Remove these tags instead", "default": False},
        },
    }

    def build(self, inputs, creds, ctx):
        status = "inactive" if inputs.get("remove") else "active"
        body = {"tags": [{"name": name, "status": status} for name in self.names(inputs["tags"])]}
        return self.request("POST", f"{member_path(inputs)}/tags", creds, json=body)

    def names(self, tags) -> list[str]:
        items = tags.split(",") if isinstance(tags, str) else tags
        names = [item.strip() for item in items if item.strip()]
        if not names:
            raise StepError("mailchimp: 'tags' needs at least one tag name")
        return names

    def parse(self, result, inputs):
        # Mailchimp answers 204 No Content: report what was applied.
        return {
            "list_id": inputs["list_id"],
            "subscriber_hash": subscriber_hash(inputs["email"]),
            "tags": self.names(inputs["tags"]),
        }


@register
class Ping(MailchimpAction):
    """GET /ping: checks the API key and data centre (used by "Test connection")."""

    name = "mailchimp.ping"
    example = {}
    label = "Mailchimp: check the API key"
    read_only = True
    input_schema = CONNECTION_ONLY

    def build(self, inputs, creds, ctx):
        return self.request("GET", "/ping", creds)

    def parse(self, result, inputs):
        body = as_dict(result.body)
        return {"health_status": body.get("health_status")}
