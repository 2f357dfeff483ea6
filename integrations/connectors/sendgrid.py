"""SendGrid (Web API v3): send an e-mail, plain or from a dynamic template. Auth: an API key as a Bearer header."""

from email.utils import parseaddr

from executions.engine.errors import StepError

from ..actions import register
from . import CONNECTION, CONNECTION_ONLY, RestAction, Service, as_dict, base_url_field, register_service

DEFAULT_BASE = "https://api.sendgrid.com"
IDEMPOTENCY_KEY = "_idempotency_key"  # how build hands the attempt's key to payload
ADDRESSES = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
}

register_service(
    Service(
        name="sendgrid",
        label="SendGrid",
        category="Email",
        docs_url="https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send",
        credential_fields={
            "api_key": {
                "label": "API key",
                "secret": True,
                "required": True,
                "help": "Settings → API Keys; needs the Mail Send permission (SG.…)",
            },
            "from_email": {
                "label": "Default sender",
                "secret": False,
                "required": False,
                "help": "A verified sender, e.g. Support <support@example.com>; a step may override it",
            },
            "base_url": base_url_field(f"Leave empty for {DEFAULT_BASE} (https://api.eu.sendgrid.com for EU subusers)"),
        },
        test_action="sendgrid.check_key",
    )
)


def address(value: str) -> dict:
    """{"email", "name"} from "Name <email>" or a bare address."""
    name, email = parseaddr(value.strip())
    if "@" not in email:
        raise StepError(f"sendgrid: '{value}' is not an e-mail address")
    return {"email": email, "name": name} if name else {"email": email}


def addresses(value) -> list[dict]:
    """A list of recipients from a list or a comma-separated string."""
    items = value.split(",") if isinstance(value, str) else value or []
    return [address(item) for item in items if item.strip()]


class SendGridAction(RestAction):
    service = "sendgrid"
    category = "Email"
    default_base_url = DEFAULT_BASE
    json_content_type = True

    def headers(self, creds, ctx):
        return {"Authorization": f"Bearer {creds.get('api_key', '')}"}


@register
class SendMail(SendGridAction):
    """POST /v3/mail/send: one e-mail to its recipients, with content or a dynamic template."""

    name = "sendgrid.send_mail"
    example = {
        "to": "{{trigger.customer.email}}",
        "subject": "Your invoice {{trigger.invoice.number}}",
        "text": "Please find your invoice attached.",
    }
    label = "SendGrid: send an e-mail"
    endpoint = "/v3/mail/send"
    input_schema = {
        "type": "object",
        "required": ["to"],
        "properties": {
            "connection": CONNECTION,
            "to": {**ADDRESSES, "title": "To", "description": "Addresses, comma-separated or a list"},
            "cc": {**ADDRESSES, "title": "Cc"},
            "bcc": {**ADDRESSES, "title": "Bcc"},
            "from_email": {"type": "string", "title": "From", "description": "Defaults to the connection's sender"},
            "reply_to": {"type": "string", "title": "Reply-To", "format": "email"},
            "subject": {"type": "string", "title": "Subject"},
            "text": {"type": "string", "title": "Plain-text body"},
            "html": {"type": "string", "title": "HTML body"},
            "template_id": {"type": "string", "title": "Dynamic template ID", "description": "d-…; replaces the body"},
            "dynamic_template_data": {"type": "object", "title": "Template data"},
        },
    }

    def build(self, inputs, creds, ctx):
        # The body needs the connection's default sender and the attempt's idempotency key.
        sender = inputs.get("from_email") or creds.get("from_email")
        return super().build({**inputs, "from_email": sender, IDEMPOTENCY_KEY: ctx.idempotency_key}, creds, ctx)

    def payload(self, inputs):
        sender = inputs.get("from_email")
        if not sender:
            raise StepError("sendgrid: no sender: set 'from_email' on the step or a default sender on the connection")
        # SendGrid has no idempotency header; the key travels in custom_args, which its event webhook echoes back,
        # so a duplicate send after a retry can at least be recognised downstream.
        body = {
            "personalizations": [self.personalization(inputs)],
            "from": address(sender),
            "custom_args": {"faos_idempotency_key": inputs[IDEMPOTENCY_KEY]},
        }
        for key in ("subject", "template_id"):
            if inputs.get(key):
                body[key] = inputs[key]
        if inputs.get("reply_to"):
            body["reply_to"] = address(inputs["reply_to"])
        content = self.content(inputs)
        if content:
            body["content"] = content
        elif not inputs.get("template_id"):
            raise StepError("sendgrid: give a text or HTML body, or a template_id")
        return body

    def personalization(self, inputs: dict) -> dict:
        """Recipients (and template data) of the one personalization this step sends."""
        found = {key: addresses(inputs.get(key)) for key in ("to", "cc", "bcc")}
        if not found["to"]:
            raise StepError("sendgrid: 'to' needs at least one address")
        result = {key: value for key, value in found.items() if value}
        if inputs.get("dynamic_template_data"):
            result["dynamic_template_data"] = inputs["dynamic_template_data"]
        return result

    def content(self, inputs: dict) -> list[dict]:
        """text/plain must come before text/html, as SendGrid requires."""
        parts = (("text/plain", inputs.get("text")), ("text/html", inputs.get("html")))
        return [{"type": kind, "value": value} for kind, value in parts if value]

    def parse(self, result, inputs):
        headers = {key.lower(): value for key, value in result.headers.items()}
        return {"status": result.status, "message_id": headers.get("x-message-id")}


@register
class CheckKey(SendGridAction):
    """GET /v3/scopes: checks the API key and whether it may send mail (used by "Test connection")."""

    name = "sendgrid.check_key"
    example = {}
    label = "SendGrid: check the API key"
    http_method = "GET"
    endpoint = "/v3/scopes"
    read_only = True
    input_schema = CONNECTION_ONLY

    def parse(self, result, inputs):
        scopes = as_dict(result.body).get("scopes", [])
        return {"scopes": len(scopes), "can_send_mail": "mail.send" in scopes}
