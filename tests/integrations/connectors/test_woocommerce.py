"""WooCommerce: the exact REST v3 requests (Basic consumer key/secret), parsing, HTTPS only, errors and redaction."""

import base64

import pytest

from executions.engine.errors import StepError
from integrations.services import connection_test
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
KEY = "ck_4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"
SECRET = "cs_canary_9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
BASIC = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
API = "/wp-json/wc/v3"
ORDER = {
    "id": 727,
    "parent_id": 0,
    "number": "727",
    "status": "processing",
    "currency": "USD",
    "date_created": "2026-11-20T18:27:21",
    "date_modified": "2026-11-20T18:27:21",
    "total": "29.35",
    "customer_id": 0,
    "billing": {"first_name": "John", "last_name": "Doe", "email": "john.doe@example.com"},
    "payment_method": "bacs",
    "payment_method_title": "Direct Bank Transfer",
    "date_paid": "2026-11-20T18:27:22",
    "line_items": [
        {
            "id": 315,
            "name": "Woo Single #1",
            "product_id": 93,
            "variation_id": 0,
            "quantity": 2,
            "subtotal": "6.00",
            "total": "6.00",
            "sku": "",
            "price": 3,
        }
    ],
}
PRODUCT = {
    "id": 794,
    "name": "Premium Quality",
    "sku": "PQ-794",
    "price": "21.99",
    "manage_stock": True,
    "stock_quantity": 12,
    "stock_status": "instock",
    "backorders": "no",
    "permalink": "https://example.com/product/premium-quality-19/",
}
STOCK = {
    "id": 794,
    "name": "Premium Quality",
    "sku": "PQ-794",
    "manage_stock": True,
    "stock_quantity": 12,
    "stock_status": "instock",
    "backorders": "no",
}


def store(connect, **extra):
    return connect("woocommerce", consumer_key=KEY, consumer_secret=SECRET, **extra)


def test_get_order_sends_basic_auth_and_summarises_the_order(vendor, connect):
    store(connect)
    vendor.route("GET", f"{API}/orders/727", body=ORDER)
    result = call("woocommerce.get_order", {"order_id": 727})
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", f"{API}/orders/727")
    assert request.headers["Authorization"] == BASIC and request.body == b""
    assert result == {
        "id": 727,
        "number": "727",
        "status": "processing",
        "currency": "USD",
        "total": "29.35",
        "customer_id": 0,
        "date_created": "2026-11-20T18:27:21",
        "date_paid": "2026-11-20T18:27:22",
        "billing_email": "john.doe@example.com",
        "payment_method_title": "Direct Bank Transfer",
        "line_items": [
            {
                "id": 315,
                "product_id": 93,
                "variation_id": 0,
                "name": "Woo Single #1",
                "sku": "",
                "quantity": 2,
                "total": "6.00",
            }
        ],
    }


def test_update_order_status_puts_only_the_status(vendor, connect):
    store(connect)
    vendor.route(
        "PUT", f"{API}/orders/727", body={**ORDER, "status": "completed", "date_modified": "2026-11-24T20:00:00"}
    )
    result = call("woocommerce.update_order_status", {"order_id": "727", "status": "completed"})
    [request] = vendor.requests
    assert (request.method, request.path) == ("PUT", f"{API}/orders/727")
    assert request.headers["Authorization"] == BASIC and request.headers["Content-Type"] == "application/json"
    assert request.json() == {"status": "completed"}
    assert result == {"id": 727, "number": "727", "status": "completed", "date_modified": "2026-11-24T20:00:00"}


def test_update_order_status_accepts_only_woocommerce_statuses(vendor, connect):
    store(connect)
    with pytest.raises(StepError, match="status"):
        call("woocommerce.update_order_status", {"order_id": 727, "status": "shipped"})
    assert vendor.requests == []


def test_get_stock_reads_the_product(vendor, connect):
    store(connect)
    vendor.route("GET", f"{API}/products/794", body=PRODUCT)
    assert call("woocommerce.get_stock", {"product_id": 794}) == STOCK
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", f"{API}/products/794")
    assert request.headers["Authorization"] == BASIC


def test_get_stock_of_a_variation_reads_the_variation(vendor, connect):
    store(connect)
    vendor.route("GET", f"{API}/products/22/variations/733", body={**PRODUCT, "id": 733, "name": None})
    assert call("woocommerce.get_stock", {"product_id": 22, "variation_id": 733})["id"] == 733
    assert vendor.requests[0].path == f"{API}/products/22/variations/733"


def test_update_stock_puts_the_quantity_with_stock_management_on(vendor, connect):
    store(connect)
    vendor.route("PUT", f"{API}/products/794", body={**PRODUCT, "stock_quantity": 40})
    result = call("woocommerce.update_stock", {"product_id": 794, "stock_quantity": 40})
    [request] = vendor.requests
    assert (request.method, request.path) == ("PUT", f"{API}/products/794")
    assert request.headers["Authorization"] == BASIC and request.headers["Content-Type"] == "application/json"
    assert request.json() == {"stock_quantity": 40, "manage_stock": True}
    assert result == {**STOCK, "stock_quantity": 40}


def test_a_4xx_is_a_final_step_error_carrying_woocommerces_message(vendor, connect):
    store(connect)
    error = {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}}
    vendor.route("GET", f"{API}/orders/9", status=404, body=error)
    with pytest.raises(StepError) as exc:
        call("woocommerce.get_order", {"order_id": 9})
    assert exc.value.retryable is False and "woocommerce_rest_shop_order_invalid_id" in str(exc.value)


@pytest.mark.parametrize("status", [429, 500])
def test_rate_limits_and_5xx_are_retryable(vendor, connect, status):
    store(connect)
    vendor.route("PUT", f"{API}/products/1", status=status, body={"code": "internal_server_error"})
    with pytest.raises(StepError) as exc:
        call("woocommerce.update_stock", {"product_id": 1, "stock_quantity": 3})
    assert exc.value.retryable is True


def test_the_keys_never_appear_in_results_or_errors_even_when_echoed(vendor, connect):
    store(connect)
    vendor.route("GET", f"{API}/products/1", body={"id": 1, "name": f"{SECRET} {BASIC}"})
    result = call("woocommerce.get_stock", {"product_id": 1})
    assert SECRET not in str(result) and BASIC.split()[1] not in str(result)
    body = {"code": "woocommerce_rest_authentication_error", "message": f"Invalid signature {KEY} {SECRET} {BASIC}"}
    vendor.route("GET", f"{API}/products/2", status=401, body=body)
    with pytest.raises(StepError) as exc:
        call("woocommerce.get_stock", {"product_id": 2})
    assert all(s not in str(exc.value) for s in (KEY, SECRET, BASIC.split()[1])) and "Invalid signature" in str(
        exc.value
    )


def test_a_store_on_plain_http_is_refused(vendor, connect):
    store(connect, base_url="http://shop.example.com")
    with pytest.raises(StepError, match="https://") as exc:
        call("woocommerce.get_order", {"order_id": 1})
    assert exc.value.retryable is False


def test_test_runs_record_the_stock_update_with_keys_redacted_and_send_nothing(vendor, connect):
    store(connect)
    result = call("woocommerce.update_stock", {"product_id": 794, "stock_quantity": 0}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert (sent["method"], sent["url"]) == ("PUT", f"{vendor.url}{API}/products/794")
    assert sent["headers"]["Authorization"] == "[redacted]" and sent["json"] == {
        "stock_quantity": 0,
        "manage_stock": True,
    }
    assert KEY not in str(result) and SECRET not in str(result)


def test_test_runs_without_a_connection_show_a_store_placeholder(vendor):
    result = call("woocommerce.get_order", {"order_id": 1}, test_mode=True)
    assert result["would_send"]["url"] == f"https://<store>{API}/orders/1"


def test_test_connection_reads_the_store_currency(vendor, connect):
    connection = store(connect)
    vendor.route(
        "GET",
        f"{API}/data/currencies/current",
        body={"code": "USD", "name": "United States (US) dollar", "symbol": "$"},
    )
    assert connection_test(connection=connection) == (True, "")
    assert (vendor.requests[0].method, vendor.requests[0].path) == ("GET", f"{API}/data/currencies/current")
    assert vendor.requests[0].headers["Authorization"] == BASIC
    assert call("woocommerce.get_currency", {}) == {"code": "USD", "name": "United States (US) dollar", "symbol": "$"}
