"""Stripe: customers, invoices (overdue ones too) and refunds. Auth: a secret or restricted key as a Bearer header.

Stripe takes form-encoded bodies with bracket notation for nested keys (metadata[order]=42). No Stripe-Version
header is pinned: the account's default version applies, and every field read here (ids, amounts, status,
due_date, hosted_invoice_url…) has the same shape in every version since 2019.
"""

import time

from executions.engine.errors import StepError

from ..actions import register
from . import RestAction, Service, base_url_field, register_service

STRIPE = register_service(
    Service(
        name="stripe",
        label="Stripe",
        category="Payment",
        docs_url="https://docs.stripe.com/api",
        credential_fields={
            "secret_key": {
                "label": "Secret key (sk_…) or restricted key (rk_…)",
                "secret": True,
                "required": True,
                "help": "Dashboard → Developers → API keys. A restricted key needs read access to customers, "
                "invoices and balance, and write access to refunds.",
            },
            "base_url": base_url_field("Leave empty for https://api.stripe.com"),
        },
        test_action="stripe.get_balance",
    )
)
PAGE_SIZE = 100  # Stripe's largest page
CONNECTION = {"type": "string", "title": "Connection", "description": "Name of the Stripe connection to use"}
STRIPE_ID = {"type": "string", "pattern": "^[A-Za-z0-9_]+$"}  # also keeps ids from changing the URL path


def brackets(values: dict, prefix: str = "") -> dict:
    """Flatten nested dicts and lists into Stripe's bracket notation: {"metadata": {"a": 1}} → {"metadata[a]": 1}."""
    flat = {}
    for key, value in values.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(brackets(value, name))
        elif isinstance(value, list | tuple):
            flat.update(brackets(dict(enumerate(value)), name))
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        elif value is not None:
            flat[name] = value
    return flat


class StripeAction(RestAction):
    service = "stripe"
    category = "Payment"
    http_method = "GET"
    default_base_url = "https://api.stripe.com"

    def headers(self, creds, ctx):
        headers = {"Authorization": f"Bearer {creds.get('secret_key', '')}"}
        if self.http_method == "POST":
            headers["Idempotency-Key"] = ctx.idempotency_key  # Stripe replays the first answer for 24 h
        return headers


def invoice_summary(invoice: dict) -> dict:
    """The fields a workflow needs from a Stripe invoice (dunning emails, approvals, reports)."""
    keys = (
        "id",
        "number",
        "status",
        "customer",
        "customer_email",
        "customer_name",
        "currency",
        "amount_due",
        "amount_paid",
        "amount_remaining",
        "due_date",
        "hosted_invoice_url",
        "invoice_pdf",
    )
    return {k: invoice.get(k) for k in keys}


@register
class GetCustomer(StripeAction):
    """Retrieve a customer by ID (GET /v1/customers/{id})."""

    name = "stripe.get_customer"
    example = {"customer_id": "{{trigger.customer_id}}"}
    label = "Stripe: get a customer"
    read_only = True
    input_schema = {
        "type": "object",
        "required": ["customer_id"],
        "properties": {
            "connection": CONNECTION,
            "customer_id": {**STRIPE_ID, "title": "Customer ID", "description": "For example cus_NffrFeUfNV2Hib"},
        },
    }

    def path(self, inputs):
        return f"/v1/customers/{inputs['customer_id']}"

    def parse(self, result, inputs):
        body = result.body
        keys = ("id", "email", "name", "phone", "currency", "balance", "delinquent", "created")
        return {**{k: body.get(k) for k in keys}, "deleted": bool(body.get("deleted", False))}


@register
class GetInvoice(StripeAction):
    """Retrieve an invoice by ID (GET /v1/invoices/{id})."""

    name = "stripe.get_invoice"
    example = {"invoice_id": "{{trigger.invoice_id}}"}
    label = "Stripe: get an invoice"
    read_only = True
    input_schema = {
        "type": "object",
        "required": ["invoice_id"],
        "properties": {
            "connection": CONNECTION,
            "invoice_id": {
                **STRIPE_ID,
                "title": "Invoice ID",
                "description": "For example in_1MtHbELkdIwHu7ixl4OzzPMv",
            },
        },
    }

    def path(self, inputs):
        return f"/v1/invoices/{inputs['invoice_id']}"

    def parse(self, result, inputs):
        return invoice_summary(result.body)


@register
class ListOverdueInvoices(StripeAction):
    """Open invoices whose due date has passed (GET /v1/invoices?status=open&due_date[lt]=now), page by page."""

    name = "stripe.list_overdue_invoices"
    example = {"limit": 50}
    label = "Stripe: list overdue invoices"
    endpoint = "/v1/invoices"
    read_only = True
    input_schema = {
        "type": "object",
        "properties": {
            "connection": CONNECTION,
            "customer_id": {**STRIPE_ID, "title": "Customer ID", "description": "Only this customer's invoices"},
            "limit": {
                "type": "integer",
                "title": "Maximum invoices",
                "description": "Stop after this many (pages of 100 are fetched until then)",
                "minimum": 1,
                "maximum": 1000,
                "default": 100,
            },
        },
    }

    def run(self, inputs, ctx):
        limit = inputs.get("limit", 100)
        # One "now" for every page, so that a page boundary cannot shift the filter.
        page_inputs = {**inputs, "_now": int(time.time()), "_cursor": None}
        invoices: list[dict] = []
        while True:
            page_inputs["_page_size"] = min(PAGE_SIZE, limit - len(invoices))
            page = super().run(page_inputs, ctx)
            invoices += page["invoices"][: limit - len(invoices)]
            if not page["has_more"] or not page["invoices"] or len(invoices) >= limit:
                return {"invoices": invoices, "count": len(invoices), "has_more": page["has_more"]}
            page_inputs["_cursor"] = page["invoices"][-1]["id"]

    def params(self, inputs):
        params = {
            "status": "open",
            "due_date[lt]": inputs.get("_now") or int(time.time()),
            "limit": inputs.get("_page_size") or min(PAGE_SIZE, inputs.get("limit", 100)),
        }
        if inputs.get("customer_id"):
            params["customer"] = inputs["customer_id"]
        if inputs.get("_cursor"):
            params["starting_after"] = inputs["_cursor"]
        return params

    def parse(self, result, inputs):
        return {
            "invoices": [invoice_summary(i) for i in result.body.get("data", [])],
            "has_more": bool(result.body.get("has_more")),
        }


@register
class Refund(StripeAction):
    """Refund a payment (POST /v1/refunds), fully or partly; retries reuse the step's Idempotency-Key."""

    name = "stripe.refund"
    example = {"payment_intent": "{{trigger.payment_intent}}", "amount": 1000, "reason": "requested_by_customer"}
    label = "Stripe: refund a payment"
    http_method = "POST"
    endpoint = "/v1/refunds"
    input_schema = {
        "type": "object",
        "anyOf": [{"required": ["payment_intent"]}, {"required": ["charge"]}],
        "properties": {
            "connection": CONNECTION,
            "payment_intent": {**STRIPE_ID, "title": "Payment intent ID", "description": "pi_…; or give a charge"},
            "charge": {**STRIPE_ID, "title": "Charge ID", "description": "ch_…; or give a payment intent"},
            "amount": {
                "type": "integer",
                "title": "Amount (in cents)",
                "description": "In the currency's smallest unit: 1500 refunds $15.00. Empty refunds everything left.",
                "minimum": 1,
            },
            "reason": {
                "type": "string",
                "title": "Reason",
                "enum": ["requested_by_customer", "duplicate", "fraudulent"],
            },
            "metadata": {
                "type": "object",
                "title": "Metadata",
                "description": "Key-value pairs stored on the refund (e.g. ticket ID)",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            },
        },
    }

    def form(self, inputs):
        if inputs.get("payment_intent") and inputs.get("charge"):
            raise StepError("stripe: give a payment intent or a charge to refund, not both")
        keys = ("payment_intent", "charge", "amount", "reason", "metadata")
        return brackets({k: inputs[k] for k in keys if inputs.get(k) not in (None, "", {})})

    def parse(self, result, inputs):
        keys = ("id", "status", "amount", "currency", "payment_intent", "charge", "reason")
        return {k: result.body.get(k) for k in keys}


@register
class GetBalance(StripeAction):
    """Retrieve the account balance (GET /v1/balance); "Test connection" uses it."""

    name = "stripe.get_balance"
    example = {}
    label = "Stripe: get the balance"
    endpoint = "/v1/balance"
    read_only = True
    input_schema = {"type": "object", "properties": {"connection": CONNECTION}}

    def parse(self, result, inputs):
        body = result.body
        return {
            "livemode": body.get("livemode"),
            "available": funds(body, "available"),
            "pending": funds(body, "pending"),
        }


def funds(balance: dict, key: str) -> list[dict]:
    """Amount and currency of each fund in a balance's available or pending list."""
    return [{"amount": f.get("amount"), "currency": f.get("currency")} for f in balance.get(key, [])]
