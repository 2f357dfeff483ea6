"""Shopify (Admin REST API): orders, inventory levels, fulfillments. Auth: an Admin API access token header.

The API version is pinned in the path so that responses keep their shape; when Shopify retires a version it
answers with the oldest supported one instead, so a stale pin degrades gracefully until it is bumped here.
"""

import re

from executions.engine.errors import StepError

from ..actions import register
from . import RestAction, Service, base_url_field, register_service

API_VERSION = "2026-10"  # the newest stable version as of November 2026; supported until at least October 2027
SHOPIFY = register_service(
    Service(
        name="shopify",
        label="Shopify",
        category="E-commerce",
        docs_url="https://shopify.dev/docs/api/admin-rest",
        credential_fields={
            "shop": {
                "label": "Shop",
                "secret": False,
                "required": True,
                "help": "The store's myshopify.com name: acme for acme.myshopify.com",
            },
            "access_token": {
                "label": "Admin API access token (shpat_…)",
                "secret": True,
                "required": True,
                "help": "From a custom app with read_orders, read_inventory and write_fulfillments scopes",
            },
            "base_url": base_url_field("Leave empty for https://<shop>.myshopify.com"),
        },
        test_action="shopify.get_shop",
    )
)
SHOP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
CONNECTION = {"type": "string", "title": "Connection", "description": "Name of the Shopify connection to use"}
NUMERIC_ID = {"type": ["integer", "string"], "pattern": "^[0-9]+$"}  # also keeps ids from changing the URL path
ID_LIST = {
    "anyOf": [
        {"type": "array", "items": NUMERIC_ID, "minItems": 1, "maxItems": 50},
        {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"},
    ]
}


def base(creds: dict, ctx) -> str:
    """https://<shop>.myshopify.com, or the connection's base URL; the shop name cannot point elsewhere."""
    if creds.get("base_url"):
        return creds["base_url"].rstrip("/")
    shop = re.sub(r"^https?://|\.myshopify\.com/?$", "", str(creds.get("shop", "")).strip().lower())
    if not SHOP_NAME.match(shop) and not ctx.test_mode:  # test runs without a connection show a placeholder
        raise StepError(f"shopify: '{creds.get('shop')}' is not a shop name such as acme (for acme.myshopify.com)")
    return f"https://{shop}.myshopify.com"


def id_list(value) -> str:
    return value if isinstance(value, str) else ",".join(str(v) for v in value)


class ShopifyAction(RestAction):
    service = "shopify"
    category = "E-commerce"
    http_method = "GET"
    json_content_type = True

    def base_url(self, creds, ctx):
        return f"{base(creds, ctx)}/admin/api/{API_VERSION}/"

    def headers(self, creds, ctx):
        return {"X-Shopify-Access-Token": creds.get("access_token", ""), "Accept": "application/json"}


@register
class GetOrder(ShopifyAction):
    """Retrieve an order: status, totals, customer email and line items (GET orders/{id}.json)."""

    name = "shopify.get_order"
    example = {"order_id": "{{trigger.order_id}}"}
    label = "Shopify: get an order"
    read_only = True
    input_schema = {
        "type": "object",
        "required": ["order_id"],
        "properties": {
            "connection": CONNECTION,
            "order_id": {**NUMERIC_ID, "title": "Order ID", "description": "The numeric ID, e.g. 450789469"},
        },
    }

    def path(self, inputs):
        return f"orders/{inputs['order_id']}.json"

    def parse(self, result, inputs):
        order = result.body.get("order") or {}
        keys = ("id", "name", "order_number", "email", "financial_status", "fulfillment_status", "total_price")
        line_keys = ("id", "title", "sku", "quantity", "fulfillable_quantity", "variant_id")
        return {
            **{k: order.get(k) for k in keys},
            "currency": order.get("currency"),
            "created_at": order.get("created_at"),
            "cancelled_at": order.get("cancelled_at"),
            "line_items": [{k: item.get(k) for k in line_keys} for item in order.get("line_items", [])],
        }


@register
class InventoryLevels(ShopifyAction):
    """Available quantities of inventory items at locations (GET inventory_levels.json)."""

    name = "shopify.inventory_levels"
    example = {"inventory_item_ids": ["{{trigger.item.inventory_item_id}}"], "limit": 10}
    label = "Shopify: get inventory levels"
    endpoint = "inventory_levels.json"
    read_only = True
    input_schema = {
        "type": "object",
        "anyOf": [{"required": ["inventory_item_ids"]}, {"required": ["location_ids"]}],
        "properties": {
            "connection": CONNECTION,
            "inventory_item_ids": {
                **ID_LIST,
                "title": "Inventory item IDs",
                "description": "Up to 50, from each variant's inventory_item_id; give these, locations, or both",
            },
            "location_ids": {**ID_LIST, "title": "Location IDs", "description": "Up to 50"},
            "limit": {"type": "integer", "title": "Maximum levels", "minimum": 1, "maximum": 250, "default": 50},
        },
    }

    def params(self, inputs):
        params = {k: id_list(inputs[k]) for k in ("inventory_item_ids", "location_ids") if inputs.get(k)}
        return params | ({"limit": inputs["limit"]} if inputs.get("limit") else {})

    def parse(self, result, inputs):
        keys = ("inventory_item_id", "location_id", "available", "updated_at")
        levels = [{k: level.get(k) for k in keys} for level in result.body.get("inventory_levels", [])]
        return {"levels": levels, "total_available": sum(level["available"] or 0 for level in levels)}


@register
class CreateFulfillment(ShopifyAction):
    """Fulfil fulfillment order items, with tracking, optionally emailing the customer (POST fulfillments.json)."""

    # Shopify's REST Admin API takes no idempotency key. A retry cannot ship a closed fulfillment order twice
    # (Shopify answers 422), but a retried partial fulfilment could fulfil further remaining quantities.
    name = "shopify.create_fulfillment"
    example = {
        "fulfillment_order_id": "{{trigger.fulfillment_order_id}}",
        "tracking_number": "{{trigger.tracking_number}}",
        "notify_customer": True,
    }
    label = "Shopify: create a fulfillment"
    http_method = "POST"
    endpoint = "fulfillments.json"
    input_schema = {
        "type": "object",
        "anyOf": [{"required": ["fulfillment_order_id"]}, {"required": ["line_items_by_fulfillment_order"]}],
        "properties": {
            "connection": CONNECTION,
            "fulfillment_order_id": {
                **NUMERIC_ID,
                "title": "Fulfillment order ID",
                "description": "Fulfils all of its remaining items (see the order's fulfillment_orders)",
            },
            "line_items_by_fulfillment_order": {
                "type": "array",
                "title": "Items by fulfillment order",
                "description": "For partial fulfilment: [{fulfillment_order_id, fulfillment_order_line_items: "
                "[{id, quantity}]}]",
                "minItems": 1,
                "items": {"type": "object", "required": ["fulfillment_order_id"]},
            },
            "tracking_number": {"type": "string", "title": "Tracking number"},
            "tracking_company": {"type": "string", "title": "Carrier", "description": "E.g. UPS, USPS, DHL Express"},
            "tracking_url": {"type": "string", "title": "Tracking URL", "format": "uri"},
            "notify_customer": {"type": "boolean", "title": "Email the customer", "default": False},
            "message": {"type": "string", "title": "Message", "description": "A note kept with the fulfillment"},
        },
    }

    def payload(self, inputs):
        orders = inputs.get("line_items_by_fulfillment_order") or [
            {"fulfillment_order_id": inputs["fulfillment_order_id"]}
        ]
        fulfillment = {
            "line_items_by_fulfillment_order": orders,
            "notify_customer": bool(inputs.get("notify_customer", False)),
        }
        tracking = {k: inputs.get(f"tracking_{k}") for k in ("number", "company", "url")}
        if any(tracking.values()):
            fulfillment["tracking_info"] = {k: v for k, v in tracking.items() if v}
        if inputs.get("message"):
            fulfillment["message"] = inputs["message"]
        return {"fulfillment": fulfillment}

    def parse(self, result, inputs):
        fulfillment = result.body.get("fulfillment") or {}
        keys = ("id", "order_id", "name", "status", "tracking_company", "tracking_number", "tracking_url")
        return {k: fulfillment.get(k) for k in keys}


@register
class GetShop(ShopifyAction):
    """Read the shop's name, domain and plan (GET shop.json); "Test connection" uses it."""

    name = "shopify.get_shop"
    example = {}
    label = "Shopify: get the shop"
    endpoint = "shop.json"
    read_only = True
    input_schema = {"type": "object", "properties": {"connection": CONNECTION}}

    def parse(self, result, inputs):
        shop = result.body.get("shop") or {}
        return {k: shop.get(k) for k in ("id", "name", "myshopify_domain", "plan_name", "currency")}
