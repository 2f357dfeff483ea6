"""WooCommerce (REST API v3 at /wp-json/wc/v3): orders and stock. Auth: consumer key and secret, Basic over HTTPS.

WooCommerce accepts Basic auth only over HTTPS (plain HTTP needs OAuth 1.0a signatures), so a store URL on
http:// is refused unless its host is allow-listed for local use: the keys would otherwise travel in clear text.
None of its endpoints takes an idempotency key; the writes here are PUTs of absolute values, safe to repeat.
"""

from urllib.parse import urlsplit

from django.conf import settings

from executions.engine.errors import StepError

from ..actions import register
from . import RestAction, Service, basic, register_service

WOOCOMMERCE = register_service(
    Service(
        name="woocommerce",
        label="WooCommerce",
        category="E-commerce",
        docs_url="https://woocommerce.github.io/woocommerce-rest-api-docs/",
        credential_fields={
            "base_url": {
                "label": "Store URL",
                "secret": False,
                "required": True,
                "help": "The WordPress site's address, e.g. https://shop.example.com (HTTPS)",
            },
            "consumer_key": {
                "label": "Consumer key (ck_…)",
                "secret": True,
                "required": True,
                "help": "WooCommerce → Settings → Advanced → REST API, with Read/Write permission",
            },
            "consumer_secret": {"label": "Consumer secret (cs_…)", "secret": True, "required": True, "help": ""},
        },
        test_action="woocommerce.get_currency",
    )
)
STATUSES = ["pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed"]
CONNECTION = {"type": "string", "title": "Connection", "description": "Name of the WooCommerce connection to use"}
NUMERIC_ID = {"type": ["integer", "string"], "pattern": "^[0-9]+$"}  # also keeps ids from changing the URL path
PRODUCT = {
    "product_id": {**NUMERIC_ID, "title": "Product ID"},
    "variation_id": {
        **NUMERIC_ID,
        "title": "Variation ID",
        "description": "For variable products, whose stock is kept per variation",
    },
}


def store(creds: dict, ctx) -> str:
    """The store URL, refused on plain HTTP unless allow-listed (tests, a store on the local network)."""
    url = (creds.get("base_url") or "").rstrip("/")
    if not url:
        if ctx.test_mode:  # test runs without a connection only show the request
            return "https://<store>"
        raise StepError("woocommerce: the connection has no store URL")
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname not in settings.FAOS_HTTP_ALLOW_HOSTS:
        raise StepError("woocommerce: the store URL must use https:// (the API keys would travel in clear text)")
    return url


def key_pair(creds: dict) -> str:
    """The Basic credentials: base64 of consumer_key:consumer_secret."""
    return basic(creds.get("consumer_key", ""), creds.get("consumer_secret", ""))


class WooAction(RestAction):
    service = "woocommerce"
    category = "E-commerce"
    http_method = "GET"
    json_content_type = True

    def base_url(self, creds, ctx):
        return f"{store(creds, ctx)}/wp-json/wc/v3/"

    def headers(self, creds, ctx):
        return {"Authorization": f"Basic {key_pair(creds)}", "Accept": "application/json"}

    def secrets(self, creds):
        # A store that echoes the Authorization header would show the pair in its encoded form.
        return {**super().secrets(creds), "basic_auth": key_pair(creds)}


def order_summary(order: dict) -> dict:
    """The fields a workflow needs from an order (support replies, fulfilment, reports)."""
    keys = ("id", "number", "status", "currency", "total", "customer_id", "date_created", "date_paid")
    line_keys = ("id", "product_id", "variation_id", "name", "sku", "quantity", "total")
    return {
        **{k: order.get(k) for k in keys},
        "billing_email": (order.get("billing") or {}).get("email"),
        "payment_method_title": order.get("payment_method_title"),
        "line_items": [{k: item.get(k) for k in line_keys} for item in order.get("line_items", [])],
    }


def product_path(inputs: dict) -> str:
    path = f"products/{inputs['product_id']}"
    return f"{path}/variations/{inputs['variation_id']}" if inputs.get("variation_id") else path


def stock_summary(product: dict) -> dict:
    keys = ("id", "name", "sku", "manage_stock", "stock_quantity", "stock_status", "backorders")
    return {k: product.get(k) for k in keys}


@register
class GetOrder(WooAction):
    """Retrieve an order: status, total, billing email and line items (GET orders/{id})."""

    name = "woocommerce.get_order"
    example = {"order_id": "{{trigger.order_id}}"}
    label = "WooCommerce: get an order"
    read_only = True
    input_schema = {
        "type": "object",
        "required": ["order_id"],
        "properties": {"connection": CONNECTION, "order_id": {**NUMERIC_ID, "title": "Order ID"}},
    }

    def path(self, inputs):
        return f"orders/{inputs['order_id']}"

    def parse(self, result, inputs):
        return order_summary(result.body)


@register
class UpdateOrderStatus(WooAction):
    """Set an order's status, e.g. completed once shipped (PUT orders/{id})."""

    name = "woocommerce.update_order_status"
    example = {"order_id": "{{trigger.order_id}}", "status": "completed"}
    label = "WooCommerce: update an order's status"
    http_method = "PUT"
    input_schema = {
        "type": "object",
        "required": ["order_id", "status"],
        "properties": {
            "connection": CONNECTION,
            "order_id": {**NUMERIC_ID, "title": "Order ID"},
            "status": {
                "type": "string",
                "title": "Status",
                "enum": STATUSES,
                "description": "completed and processing also send WooCommerce's customer emails",
            },
        },
    }

    def path(self, inputs):
        return f"orders/{inputs['order_id']}"

    def payload(self, inputs):
        return {"status": inputs["status"]}

    def parse(self, result, inputs):
        keys = ("id", "number", "status", "date_modified")
        return {k: result.body.get(k) for k in keys}


@register
class GetStock(WooAction):
    """Read a product's (or variation's) stock quantity and status (GET products/{id})."""

    name = "woocommerce.get_stock"
    example = {"product_id": "{{trigger.product_id}}"}
    label = "WooCommerce: get stock"
    read_only = True
    input_schema = {
        "type": "object",
        "required": ["product_id"],
        "properties": {"connection": CONNECTION, **PRODUCT},
    }

    def path(self, inputs):
        return product_path(inputs)

    def parse(self, result, inputs):
        return stock_summary(result.body)


@register
class UpdateStock(WooAction):
    """Set a product's (or variation's) stock quantity, turning stock management on (PUT products/{id})."""

    name = "woocommerce.update_stock"
    example = {"product_id": "{{trigger.product_id}}", "stock_quantity": 25, "manage_stock": True}
    label = "WooCommerce: update stock"
    http_method = "PUT"
    input_schema = {
        "type": "object",
        "required": ["product_id", "stock_quantity"],
        "properties": {
            "connection": CONNECTION,
            **PRODUCT,
            "stock_quantity": {"type": "integer", "title": "Stock quantity", "description": "The new absolute count"},
            "manage_stock": {
                "type": "boolean",
                "title": "Manage stock",
                "description": "WooCommerce ignores the quantity unless stock management is on",
                "default": True,
            },
        },
    }

    def path(self, inputs):
        return product_path(inputs)

    def payload(self, inputs):
        return {"stock_quantity": inputs["stock_quantity"], "manage_stock": inputs.get("manage_stock", True)}

    def parse(self, result, inputs):
        return stock_summary(result.body)


@register
class GetCurrency(WooAction):
    """Read the store's currency (GET data/currencies/current), a cheap authenticated call for "Test connection"."""

    name = "woocommerce.get_currency"
    example = {}
    label = "WooCommerce: get the store currency"
    endpoint = "data/currencies/current"
    read_only = True
    input_schema = {"type": "object", "properties": {"connection": CONNECTION}}

    def parse(self, result, inputs):
        return {k: result.body.get(k) for k in ("code", "name", "symbol")}
