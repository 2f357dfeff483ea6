"""PayPal (REST): refund a capture, read an order. Auth: OAuth2 client credentials, then a Bearer access token.

Every run first trades the app's client ID and secret for an access token (POST /v1/oauth2/token, Basic auth),
then sends the call with it. Tokens are not cached: a cache would have to be per connection, drop tokens when
the credentials change and keep them encrypted at rest; one extra request per step costs far less than that.
"""

from dataclasses import replace

from executions.engine.errors import StepError

from .. import http
from ..actions import register
from . import Request, RestAction, Service, base_url_field, basic, failure, redact, register_service, send, summary

LIVE = "https://api-m.paypal.com"
SANDBOX = "https://api-m.sandbox.paypal.com"
PAYPAL = register_service(
    Service(
        name="paypal",
        label="PayPal",
        category="Payment",
        docs_url="https://developer.paypal.com/api/rest/",
        credential_fields={
            "client_id": {
                "label": "Client ID",
                "secret": False,
                "required": True,
                "help": "Developer Dashboard → Apps & Credentials → your REST app",
            },
            "client_secret": {"label": "Secret", "secret": True, "required": True, "help": "The same app's secret"},
            "base_url": base_url_field(f"Leave empty for live ({LIVE}); use {SANDBOX} with sandbox app credentials"),
        },
        test_action="paypal.check_credentials",
    )
)
CONNECTION = {"type": "string", "title": "Connection", "description": "Name of the PayPal connection to use"}
PAYPAL_ID = {"type": "string", "pattern": "^[A-Za-z0-9-]+$"}  # also keeps ids from changing the URL path


def base(creds: dict) -> str:
    """The API host: live unless the connection names the sandbox (or a test server)."""
    return (creds.get("base_url") or LIVE).rstrip("/")


def token_request(creds: dict) -> Request:
    """The documented token call: Basic client_id:secret, form body grant_type=client_credentials."""
    return Request(
        "POST",
        f"{base(creds)}/v1/oauth2/token",
        headers={"Accept": "application/json"},
        data={"grant_type": "client_credentials"},
        auth=(creds.get("client_id", ""), creds.get("client_secret", "")),
    )


class PayPalAction(RestAction):
    service = "paypal"
    category = "Payment"
    http_method = "GET"

    def run(self, inputs, ctx):
        creds = ctx.credentials(self.service, inputs.get("connection"))
        token = self.fetch_token(creds, ctx)["access_token"]
        # The token joins the credentials, so the base class sends it and redacts it like any other secret.
        with_token = {**creds, "access_token": token}
        return super().run(inputs, replace(ctx, credentials=lambda _service, _name: with_token))

    def describe(self, inputs, ctx):
        creds = ctx.credentials(self.service, inputs.get("connection"))
        return {"token_request": self.token_summary(creds), **super().describe(inputs, ctx)}

    def fetch_token(self, creds: dict, ctx) -> dict:
        """The token response (access_token, expires_in, app_id…); failures are StepErrors without secrets."""
        request = token_request(creds)
        ctx.sent.append(self.token_summary(creds))
        try:
            result = send(request, ctx.timeout)
        except http.HttpError as exc:
            raise failure(exc, redact(f"paypal: getting an access token: {exc}", self.secrets(creds))) from None
        body = result.body if isinstance(result.body, dict) else {}
        if not body.get("access_token"):
            raise StepError("paypal: the token endpoint answered without an access_token")
        return body

    def secrets(self, creds):
        # A token endpoint that echoes the Authorization header would show the pair in its encoded form.
        pair = basic(creds.get("client_id", ""), creds.get("client_secret", ""))
        return {**super().secrets(creds), "basic_auth": pair}

    def token_summary(self, creds: dict) -> dict:
        """The token request as step runs and test runs show it (the Basic credentials travel in `auth`)."""
        described = summary(token_request(creds), self.secrets(creds))
        described["headers"]["Authorization"] = "[redacted]"
        return described

    def base_url(self, creds, ctx):
        return base(creds)

    def headers(self, creds, ctx):
        headers = {"Authorization": f"Bearer {creds.get('access_token', '<access token>')}"}
        if self.http_method == "POST":  # every POST here sends a JSON body
            headers["Content-Type"] = "application/json"
        return headers


def money(value) -> dict | None:
    """A PayPal money object reduced to value and currency_code."""
    return {"value": value.get("value"), "currency_code": value.get("currency_code")} if value else None


def decimal_text(amount) -> str:
    """PayPal wants amounts as decimal strings; numbers from templates are written with two decimals."""
    if isinstance(amount, str):
        return amount
    return str(amount) if isinstance(amount, int) else f"{amount:.2f}"


@register
class RefundCapture(PayPalAction):
    """Refund a captured payment (POST /v2/payments/captures/{id}/refund); retries reuse PayPal-Request-Id."""

    name = "paypal.refund_capture"
    example = {
        "capture_id": "{{trigger.capture_id}}",
        "amount": "10.00",
        "currency_code": "USD",
        "note_to_payer": "Sorry for the trouble.",
    }
    label = "PayPal: refund a captured payment"
    http_method = "POST"
    input_schema = {
        "type": "object",
        "required": ["capture_id"],
        "dependentRequired": {"amount": ["currency_code"]},
        "properties": {
            "connection": CONNECTION,
            "capture_id": {**PAYPAL_ID, "title": "Capture ID", "description": "The captured payment to refund"},
            "amount": {
                "type": ["string", "number"],
                "title": "Amount",
                "description": "For example 10.99; empty refunds everything not yet refunded",
                "pattern": r"^[0-9]+(\.[0-9]{1,3})?$",
                "exclusiveMinimum": 0,
            },
            "currency_code": {
                "type": "string",
                "title": "Currency",
                "description": "ISO 4217 code of the capture's currency, e.g. USD (needed with an amount)",
                "pattern": "^[A-Z]{3}$",
            },
            "note_to_payer": {
                "type": "string",
                "title": "Note to the payer",
                "description": "Shown in the payer's transaction history and refund email",
                "maxLength": 255,
            },
            "invoice_id": {"type": "string", "title": "Invoice ID", "description": "Your own reference"},
        },
    }

    def path(self, inputs):
        return f"/v2/payments/captures/{inputs['capture_id']}/refund"

    def headers(self, creds, ctx):
        # PayPal-Request-Id makes a retried refund return the first one; return=representation adds the amount.
        extra = {"PayPal-Request-Id": ctx.idempotency_key, "Prefer": "return=representation"}
        return {**super().headers(creds, ctx), **extra}

    def payload(self, inputs):
        body = {}  # an empty body refunds the whole remaining amount
        if inputs.get("amount") not in (None, ""):
            body["amount"] = {"value": decimal_text(inputs["amount"]), "currency_code": inputs["currency_code"]}
        for key in ("note_to_payer", "invoice_id"):
            if inputs.get(key):
                body[key] = inputs[key]
        return body

    def parse(self, result, inputs):
        body = result.body
        return {
            "id": body.get("id"),
            "status": body.get("status"),
            "amount": money(body.get("amount")),
            "capture_id": inputs["capture_id"],
        }


@register
class GetOrder(PayPalAction):
    """Show an order's status, payer, amount and captures (GET /v2/checkout/orders/{id})."""

    name = "paypal.get_order"
    example = {"order_id": "{{trigger.order_id}}"}
    label = "PayPal: get an order"
    read_only = True
    input_schema = {
        "type": "object",
        "required": ["order_id"],
        "properties": {
            "connection": CONNECTION,
            "order_id": {**PAYPAL_ID, "title": "Order ID", "description": "For example 5O190127TN364715T"},
        },
    }

    def path(self, inputs):
        return f"/v2/checkout/orders/{inputs['order_id']}"

    def parse(self, result, inputs):
        body = result.body
        units = body.get("purchase_units") or [{}]
        payer = body.get("payer") or {}
        name = payer.get("name") or {}
        captures = [c for unit in units for c in (unit.get("payments") or {}).get("captures", [])]
        return {
            "id": body.get("id"),
            "status": body.get("status"),
            "intent": body.get("intent"),
            "amount": money(units[0].get("amount")),
            "payer_email": payer.get("email_address"),
            "payer_name": " ".join(filter(None, (name.get("given_name"), name.get("surname")))) or None,
            "captures": [
                {"id": c.get("id"), "status": c.get("status"), "amount": money(c.get("amount"))} for c in captures
            ],
            "create_time": body.get("create_time"),
        }


@register
class CheckCredentials(PayPalAction):
    """Fetch an access token with the app's credentials ("Test connection"); the token is not returned."""

    name = "paypal.check_credentials"
    example = {}
    label = "PayPal: check the app credentials"
    read_only = True
    input_schema = {"type": "object", "properties": {"connection": CONNECTION}}

    def run(self, inputs, ctx):
        creds = ctx.credentials(self.service, inputs.get("connection"))
        body = self.fetch_token(creds, ctx)
        return {
            "app_id": body.get("app_id"),
            "token_type": body.get("token_type"),
            "expires_in": body.get("expires_in"),
        }

    def describe(self, inputs, ctx):
        return {"token_request": self.token_summary(ctx.credentials(self.service, inputs.get("connection")))}
