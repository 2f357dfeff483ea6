"""Customer.io: identify people and track events (Track API, Basic site_id:api_key), send transactional e-mail
(App API, Bearer app API key)."""

import hashlib
from email.utils import parseaddr
from urllib.parse import quote

from executions.engine.errors import StepError

from ..actions import register
from . import CONNECTION, CONNECTION_ONLY, ConnectorAction, Request, Service, as_dict, register_service

TRACK_BASE = "https://track.customer.io"
APP_BASE = "https://api.customer.io"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PERSON = {
    "type": "string",
    "title": "Person identifier",
    "minLength": 1,
    "description": "The person's id, e-mail or cio_… id, as your workspace identifies people",
}

register_service(
    Service(
        name="customerio",
        label="Customer.io",
        category="Email",
        docs_url="https://docs.customer.io/integrations/api/track/",
        credential_fields={
            "site_id": {"label": "Site ID (Track API)", "secret": False, "required": False, "help": "Settings → API"},
            "api_key": {
                "label": "Track API key",
                "secret": True,
                "required": False,
                "help": "Paired with the Site ID; for identify and track event",
            },
            "app_api_key": {
                "label": "App API key",
                "secret": True,
                "required": False,
                "help": "A separate Bearer key; for transactional messages",
            },
            "base_url": {
                "label": "Track API base URL",
                "secret": False,
                "required": False,
                "help": f"Leave empty for {TRACK_BASE} (EU: https://track-eu.customer.io)",
            },
            "app_base_url": {
                "label": "App API base URL",
                "secret": False,
                "required": False,
                "help": f"Leave empty for {APP_BASE} (EU: https://api-eu.customer.io)",
            },
        },
        test_action="customerio.check_credentials",
        credential_sets=(("site_id", "api_key"), ("app_api_key",)),
    )
)


def given(value) -> str:
    """A credential's value; empty for a test run's "<name>" placeholder."""
    return "" if not value or str(value).startswith("<") else str(value)


def dedupe_id(key: str) -> str:
    """A ULID-shaped id derived from the idempotency key: Customer.io drops events that repeat an id."""
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "big")
    return "".join(CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


def track_request(method: str, path: str, creds: dict, **kwargs) -> Request:
    base = (given(creds.get("base_url")) or TRACK_BASE).rstrip("/")
    auth = (str(creds.get("site_id") or ""), str(creds.get("api_key") or ""))
    return Request(method, f"{base}{path}", auth=auth, **kwargs)


def app_request(method: str, path: str, creds: dict, **kwargs) -> Request:
    base = (given(creds.get("app_base_url")) or APP_BASE).rstrip("/")
    headers = {"Authorization": f"Bearer {creds.get('app_api_key') or ''}"}
    if "json" in kwargs:
        headers["Content-Type"] = "application/json"
    return Request(method, f"{base}{path}", headers=headers, **kwargs)


def person_path(identifier: str) -> str:
    return f"/api/v1/customers/{quote(str(identifier), safe='@')}"


def need_track(creds: dict) -> None:
    if not (creds.get("site_id") and creds.get("api_key")):
        raise StepError("customerio: this action needs the Track API Site ID and API key on the connection")


class CustomerIOAction(ConnectorAction):
    service = "customerio"
    category = "Email"


@register
class Identify(CustomerIOAction):
    """PUT /api/v1/customers/{id}: create or update a person with these attributes."""

    name = "customerio.identify"
    example = {
        "id": "{{trigger.customer.id}}",
        "email": "{{trigger.customer.email}}",
        "attributes": {"plan": "{{trigger.customer.plan}}"},
    }
    label = "Customer.io: identify a person"
    input_schema = {
        "type": "object",
        "required": ["id"],
        "properties": {
            "connection": CONNECTION,
            "id": PERSON,
            "email": {"type": "string", "title": "E-mail", "format": "email"},
            "attributes": {
                "type": "object",
                "title": "Attributes",
                "description": 'e.g. {"first_name": "Ada", "plan": "pro", "created_at": 1700000000}',
            },
        },
    }

    def build(self, inputs, creds, ctx):
        # A PUT of the same attributes is idempotent; the Track API has no idempotency header.
        need_track(creds)
        body = dict(inputs.get("attributes") or {})
        if inputs.get("email"):
            body["email"] = inputs["email"]
        return track_request("PUT", person_path(inputs["id"]), creds, json=body)

    def parse(self, result, inputs):
        return {"id": inputs["id"], "identified": True}


@register
class TrackEvent(CustomerIOAction):
    """POST /api/v1/customers/{id}/events: record an event for a person (can trigger campaigns)."""

    name = "customerio.track_event"
    example = {"id": "{{trigger.customer.id}}", "name": "feedback_received", "data": {"score": "{{trigger.score}}"}}
    label = "Customer.io: track an event"
    input_schema = {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "connection": CONNECTION,
            "id": PERSON,
            "name": {"type": "string", "title": "Event name", "minLength": 1},
            "data": {"type": "object", "title": "Event data", "description": "Usable in messages as {{event.…}}"},
            "timestamp": {"type": "integer", "title": "When (Unix seconds)", "description": "Defaults to now"},
        },
    }

    def build(self, inputs, creds, ctx):
        need_track(creds)
        # No idempotency header: the event's documented "id" (a ULID) deduplicates retries of this step instead.
        body = {"name": inputs["name"], "id": dedupe_id(ctx.idempotency_key)}
        for key in ("data", "timestamp"):
            if inputs.get(key) not in (None, ""):
                body[key] = inputs[key]
        return track_request("POST", f"{person_path(inputs['id'])}/events", creds, json=body)

    def parse(self, result, inputs):
        return {"id": inputs["id"], "name": inputs["name"], "tracked": True}


@register
class SendTransactional(CustomerIOAction):
    """POST /v1/send/email: send a transactional message (template) to one person."""

    name = "customerio.send_transactional"
    example = {
        "transactional_message_id": "welcome",
        "to": "{{trigger.customer.email}}",
        "identifiers": {"id": "{{trigger.customer.id}}"},
        "message_data": {"name": "{{trigger.customer.name}}"},
    }
    label = "Customer.io: send a transactional e-mail"
    input_schema = {
        "type": "object",
        "required": ["transactional_message_id", "to"],
        "properties": {
            "connection": CONNECTION,
            "transactional_message_id": {
                "anyOf": [{"type": "integer"}, {"type": "string", "minLength": 1}],
                "title": "Transactional message ID",
                "description": "The number in the message's URL, or its trigger name",
            },
            "to": {"type": "string", "title": "To", "minLength": 3, "description": "e.g. Ada <ada@example.com>"},
            "identifiers": {
                "type": "object",
                "title": "Recipient identifiers",
                "description": 'One of {"id": …}, {"email": …}, {"cio_id": …}; defaults to the To address',
            },
            "message_data": {"type": "object", "title": "Message data", "description": "Liquid {{trigger.…}} values"},
        },
    }

    def build(self, inputs, creds, ctx):
        if not creds.get("app_api_key"):
            raise StepError("customerio: transactional messages need the App API key on the connection")
        # The App API documents no idempotency header or field for sends: a retried step may send twice.
        body = {
            "transactional_message_id": inputs["transactional_message_id"],
            "to": inputs["to"],
            "identifiers": inputs.get("identifiers") or {"email": parseaddr(inputs["to"])[1]},
        }
        if inputs.get("message_data"):
            body["message_data"] = inputs["message_data"]
        return app_request("POST", "/v1/send/email", creds, json=body)

    def parse(self, result, inputs):
        body = as_dict(result.body)
        return {"delivery_id": body.get("delivery_id"), "queued_at": body.get("queued_at")}


@register
class CheckCredentials(CustomerIOAction):
    """GET /api/v1/accounts/region (Track API), or GET /v1/workspaces with only an App API key."""

    name = "customerio.check_credentials"
    example = {}
    label = "Customer.io: check the credentials"
    read_only = True
    input_schema = CONNECTION_ONLY

    def build(self, inputs, creds, ctx):
        has_track = given(creds.get("site_id")) and given(creds.get("api_key"))
        if has_track or not given(creds.get("app_api_key")):
            return track_request("GET", "/api/v1/accounts/region", creds)
        return app_request("GET", "/v1/workspaces", creds)

    def parse(self, result, inputs):
        body = as_dict(result.body)
        if "workspaces" in body:
            return {"workspaces": [w.get("name") for w in body["workspaces"] if isinstance(w, dict)]}
        return {"region": body.get("region"), "url": body.get("url"), "environment_id": body.get("environment_id")}
