"""What each vendor's webhook delivers, from the vendors' documentation (trimmed to the fields that matter).

Every template whose trigger is a vendor's webhook has its deliveries here (DELIVERIES); the tests run each
template with them (tests/workflows/test_vendor_payloads.py) and the branch tests build their inputs from them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field


def stripe_customer_created(*, name="Ada Lovelace", email="ada@example.com", metadata=None) -> dict:
    """A Stripe Event of type customer.created: the customer object is under data.object (API 2024-06-20)."""
    customer = {
        "id": "cus_NffrFeUfNV2Hib",
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": 1686089970,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": email,
        "invoice_prefix": "0759376C",
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
        "livemode": False,
        "metadata": {} if metadata is None else metadata,
        "name": name,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    return {
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "object": "event",
        "api_version": "2024-06-20",
        "created": 1686089970,
        "data": {"object": customer},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_1NG8Du2eZvKYlo2C", "idempotency_key": "5b3b4c8f-8a6e-4e2b-9f3c-1d2e3f4a5b6c"},
        "type": "customer.created",
    }


SHOPIFY_LINE_ITEM = {
    "id": 466157049,
    "variant_id": 39072856,
    "product_id": 632910392,
    "title": "IPod Nano - 8gb",
    "variant_title": "green",
    "name": "IPod Nano - 8gb - green",
    "sku": "IPOD2008GREEN",
    "quantity": 1,
    "price": "199.00",
    "fulfillable_quantity": 1,
    "fulfillment_service": "manual",
    "fulfillment_status": None,
    "requires_shipping": True,
    "gift_card": False,
}


def shopify_order(*, financial_status="paid", skus=None, customer=True) -> dict:
    """The body of Shopify's orders/create webhook: the order itself, at the top level (Admin REST order)."""
    items = [
        {**SHOPIFY_LINE_ITEM, "id": SHOPIFY_LINE_ITEM["id"] + n, "sku": sku, "quantity": quantity}
        for n, (sku, quantity) in enumerate((skus or {"IPOD2008GREEN": 1}).items())
    ]
    order = {
        "id": 450789469,
        "admin_graphql_api_id": "gid://shopify/Order/450789469",
        "name": "#1001",
        "order_number": 1001,
        "email": "bob.norman@mail.example.com",
        "contact_email": "bob.norman@mail.example.com",
        "created_at": "2026-11-20T16:09:54-05:00",
        "currency": "USD",
        "total_price": "598.94",
        "subtotal_price": "597.00",
        "financial_status": financial_status,
        "fulfillment_status": None,
        "tags": "",
        "note": None,
        "customer": {
            "id": 207119551,
            "email": "bob.norman@mail.example.com",
            "first_name": "Bob",
            "last_name": "Norman",
            "state": "disabled",
            "tags": "",
        },
        "shipping_address": {
            "first_name": "Bob",
            "last_name": "Norman",
            "address1": "Chestnut Street 92",
            "city": "Louisville",
            "province": "Kentucky",
            "zip": "40202",
            "country": "United States",
            "country_code": "US",
        },
        "line_items": items,
    }
    if not customer:  # an order with no customer record (Shopify sends customer only when there is one)
        del order["customer"]
    return order


def woocommerce_order(*, status="processing", skus=None) -> dict:
    """The body of WooCommerce's order.created webhook: the REST API v3 order, at the top level."""
    items = [
        {
            "id": 315 + n,
            "name": "Woo Single #1",
            "product_id": 93,
            "variation_id": 0,
            "quantity": quantity,
            "subtotal": "6.00",
            "total": "6.00",
            "sku": sku,
            "price": 3,
        }
        for n, (sku, quantity) in enumerate((skus or {"woo-single-1": 2}).items())
    ]
    return {
        "id": 727,
        "parent_id": 0,
        "number": "727",
        "order_key": "wc_order_58d2d042d1d",
        "created_via": "checkout",
        "status": status,
        "currency": "USD",
        "date_created": "2026-11-20T18:27:21",
        "total": "29.35",
        "customer_id": 0,
        "billing": {
            "first_name": "John",
            "last_name": "Doe",
            "address_1": "969 Market",
            "city": "San Francisco",
            "state": "CA",
            "postcode": "94103",
            "country": "US",
            "email": "john.doe@example.com",
            "phone": "(555) 555-5555",
        },
        "shipping": {"first_name": "John", "last_name": "Doe", "address_1": "969 Market", "country": "US"},
        "payment_method": "bacs",
        "payment_method_title": "Direct Bank Transfer",
        "date_paid": "2026-11-20T18:27:22" if status in ("processing", "completed") else None,
        "line_items": items,
    }


def zendesk_ticket(*, subject="I can't reset my password", description="The reset link never arrives.") -> dict:
    """A Zendesk webhook connected to a trigger, sending the JSON body the template's description gives: the
    placeholders ({{ticket.id}}, {{ticket.title}}, …) arrive rendered, as strings."""
    return {
        "ticket": {
            "id": "35436",
            "subject": subject,
            "description": description,
            "requester": {"name": "Jane Doe", "email": "jane.doe@example.org"},
        }
    }


def freshdesk_ticket(*, subject="Password reset", description="<div>How do I reset my password?</div>") -> dict:
    """A Freshdesk automation rule's Trigger webhook with the template's JSON body: Freshdesk renders
    {{ticket.description}} as HTML."""
    return {
        "ticket": {
            "id": "11",
            "subject": subject,
            "description": description,
            "requester": {"name": "Requester Bob", "email": "requester-bob@example.com"},
        }
    }


@dataclass(frozen=True)
class Delivery:
    """One documented delivery to a template: who sends it, the body, and what the run must do with it."""

    vendor: str
    payload: dict
    steps: set[str]  # steps that must have run
    emails: list[str]  # who gets e-mailed (in order)
    skipped: set[str] = field(default_factory=set)  # steps that must not have run
    stock: bool | None = None  # what the fake inventory answers, for the templates that ask it
    status: str = "succeeded"

    @property
    def body(self) -> dict:
        return copy.deepcopy(self.payload)


PREMIUM = {"assign_account_manager", "schedule_kickoff_call", "send_premium_resources"}
ADA = "ada@example.com"
BOB = "bob.norman@mail.example.com"
JOHN = "john.doe@example.com"
SKUS = {"A-1": 1, "B-2": 2, "C-3": 1}

# The template's slug → the deliveries it is tested with, by case name.
DELIVERIES: dict[str, dict[str, Delivery]] = {
    "new-customer-onboarding": {
        "stripe-premium": Delivery(
            "stripe",
            stripe_customer_created(metadata={"plan": "premium"}),
            {"premium_onboarding", *PREMIUM},
            [ADA, ADA],
            skipped={"standard_onboarding"},
        ),
        "stripe-no-plan": Delivery(
            "stripe", stripe_customer_created(), {"standard_onboarding"}, [ADA, ADA], skipped=PREMIUM
        ),
        "stripe-no-name": Delivery(
            "stripe",
            stripe_customer_created(name=None, metadata={"plan": "basic", "signup": "checkout"}),
            {"standard_onboarding"},
            [ADA, ADA],
            skipped=PREMIUM,
        ),
    },
    "ecommerce-order-fulfillment": {
        "shopify-in-stock": Delivery(
            "shopify",
            shopify_order(),
            {"create_shipping_label", "notify_warehouse", "send_confirmation"},
            [BOB],
            skipped={"notify_backorder"},
            stock=True,
        ),
        "shopify-backorder": Delivery(
            "shopify",
            shopify_order(skus=SKUS),
            {"notify_backorder", "create_restock_task"},
            [BOB],
            skipped={"create_shipping_label"},
            stock=False,
        ),
        "shopify-unpaid": Delivery(
            "shopify",
            shopify_order(financial_status="pending"),
            {"payment_problem"},
            [],
            skipped={"look_up_stock"},
            status="failed",
        ),
        "woocommerce-in-stock": Delivery(
            "woocommerce",
            woocommerce_order(),
            {"create_shipping_label", "notify_warehouse", "send_confirmation"},
            [JOHN],
            stock=True,
        ),
    },
    "order-inventory-fan-out": {
        "shopify-all-available": Delivery(
            "shopify", shopify_order(skus=SKUS), {"proceed_to_checkout"}, [], skipped={"notify_customer"}, stock=True
        ),
        "shopify-guest-missing-items": Delivery(
            "shopify", shopify_order(skus=SKUS, customer=False), {"notify_customer"}, [BOB], stock=False
        ),
        "woocommerce-missing-items": Delivery(
            "woocommerce", woocommerce_order(skus=SKUS), {"notify_customer"}, [JOHN], stock=False
        ),
    },
    "support-ticket-escalation": {
        "zendesk-answered": Delivery(
            "zendesk",
            zendesk_ticket(),
            {"draft_answer", "send_auto_response", "send_confirmation"},
            ["jane.doe@example.org", "jane.doe@example.org"],
            skipped={"escalate"},
        ),
        "zendesk-outage": Delivery(
            "zendesk",
            zendesk_ticket(subject="Our site is down", description="Total outage since 9:00, urgent!"),
            {"escalate", "alert_support_channel", "send_confirmation"},
            ["jane.doe@example.org"],
            skipped={"send_auto_response"},
        ),
        "freshdesk-answered": Delivery(
            "freshdesk",
            freshdesk_ticket(),
            {"draft_answer", "send_auto_response", "send_confirmation"},
            ["requester-bob@example.com", "requester-bob@example.com"],
        ),
    },
}
