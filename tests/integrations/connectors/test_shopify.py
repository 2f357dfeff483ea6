"""Shopify: the exact Admin REST requests (pinned version, access-token header), parsing, errors and redaction."""

from urllib.parse import parse_qs, urlsplit

import pytest

from executions.engine.errors import StepError
from integrations.connectors.shopify import API_VERSION
from integrations.services import connection_test
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
TOKEN = "shpat_canary_1a2b3c4d5e6f7a8b9c0d"
API = f"/admin/api/{API_VERSION}"
ORDER = {
    "order": {
        "id": 450789469,
        "admin_graphql_api_id": "gid://shopify/Order/450789469",
        "name": "#1001",
        "order_number": 1001,
        "email": "bob.norman@mail.example.com",
        "financial_status": "paid",
        "fulfillment_status": None,
        "total_price": "598.94",
        "currency": "USD",
        "created_at": "2026-11-20T16:09:54-05:00",
        "cancelled_at": None,
        "line_items": [
            {
                "id": 466157049,
                "title": "IPod Nano - 8gb",
                "sku": "IPOD2008GREEN",
                "quantity": 1,
                "fulfillable_quantity": 1,
                "variant_id": 39072856,
                "price": "199.00",
            }
        ],
        "customer": {"id": 207119551, "email": "bob.norman@mail.example.com"},
    }
}


def shop(connect, **extra):
    return connect("shopify", shop="acme-store", access_token=TOKEN, **extra)


def test_get_order_sends_the_token_header_to_the_pinned_version_and_summarises_the_order(vendor, connect):
    shop(connect)
    vendor.route("GET", f"{API}/orders/450789469.json", body=ORDER)
    result = call("shopify.get_order", {"order_id": 450789469})
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", f"{API}/orders/450789469.json")
    assert request.headers["X-Shopify-Access-Token"] == TOKEN and request.body == b""
    assert result == {
        "id": 450789469,
        "name": "#1001",
        "order_number": 1001,
        "email": "bob.norman@mail.example.com",
        "financial_status": "paid",
        "fulfillment_status": None,
        "total_price": "598.94",
        "currency": "USD",
        "created_at": "2026-11-20T16:09:54-05:00",
        "cancelled_at": None,
        "line_items": [
            {
                "id": 466157049,
                "title": "IPod Nano - 8gb",
                "sku": "IPOD2008GREEN",
                "quantity": 1,
                "fulfillable_quantity": 1,
                "variant_id": 39072856,
            }
        ],
    }


def test_inventory_levels_sends_comma_separated_ids_and_sums_what_is_available(vendor, connect):
    shop(connect)
    levels = {
        "inventory_levels": [
            {
                "inventory_item_id": 808950810,
                "location_id": 655441491,
                "available": 5,
                "updated_at": "2026-11-24T10:00:00Z",
            },
            {"inventory_item_id": 39072856, "location_id": 655441491, "available": None, "updated_at": None},
        ]
    }
    vendor.route("GET", f"{API}/inventory_levels.json", body=levels)
    inputs = {"inventory_item_ids": [808950810, "39072856"], "location_ids": "655441491", "limit": 100}
    result = call("shopify.inventory_levels", inputs)
    [request] = vendor.requests
    assert request.method == "GET" and urlsplit(request.path).path == f"{API}/inventory_levels.json"
    assert parse_qs(urlsplit(request.path).query) == {
        "inventory_item_ids": ["808950810,39072856"],
        "location_ids": ["655441491"],
        "limit": ["100"],
    }
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    assert result == {
        "levels": [
            {
                "inventory_item_id": 808950810,
                "location_id": 655441491,
                "available": 5,
                "updated_at": "2026-11-24T10:00:00Z",
            },
            {"inventory_item_id": 39072856, "location_id": 655441491, "available": None, "updated_at": None},
        ],
        "total_available": 5,
    }


def test_inventory_levels_needs_items_or_locations(vendor, connect):
    shop(connect)
    with pytest.raises(StepError):
        call("shopify.inventory_levels", {"limit": 10})
    assert vendor.requests == []


def test_create_fulfillment_posts_items_tracking_and_notification(vendor, connect):
    shop(connect)
    fulfillment = {
        "fulfillment": {
            "id": 1069019862,
            "order_id": 450789469,
            "name": "#1001.1",
            "status": "success",
            "tracking_company": "UPS",
            "tracking_number": "1Z001985YW99744790",
            "tracking_numbers": ["1Z001985YW99744790"],
            "tracking_url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z001985YW99744790",
            "line_items": [{"id": 466157049, "quantity": 1}],
        }
    }
    vendor.route("POST", f"{API}/fulfillments.json", status=201, body=fulfillment)
    items = [{"fulfillment_order_id": 1046000818, "fulfillment_order_line_items": [{"id": 1025578643, "quantity": 1}]}]
    inputs = {
        "line_items_by_fulfillment_order": items,
        "tracking_number": "1Z001985YW99744790",
        "tracking_company": "UPS",
        "notify_customer": True,
        "message": "The package was shipped this morning.",
    }
    result = call("shopify.create_fulfillment", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", f"{API}/fulfillments.json")
    assert request.headers["X-Shopify-Access-Token"] == TOKEN
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "fulfillment": {
            "line_items_by_fulfillment_order": items,
            "notify_customer": True,
            "tracking_info": {"number": "1Z001985YW99744790", "company": "UPS"},
            "message": "The package was shipped this morning.",
        }
    }
    assert result == {
        "id": 1069019862,
        "order_id": 450789469,
        "name": "#1001.1",
        "status": "success",
        "tracking_company": "UPS",
        "tracking_number": "1Z001985YW99744790",
        "tracking_url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z001985YW99744790",
    }


def test_a_fulfillment_order_id_alone_fulfils_all_its_items_without_notifying(vendor, connect):
    shop(connect)
    vendor.route("POST", f"{API}/fulfillments.json", status=201, body={"fulfillment": {"id": 1, "status": "success"}})
    call("shopify.create_fulfillment", {"fulfillment_order_id": "1046000818"})
    assert vendor.requests[0].json() == {
        "fulfillment": {
            "line_items_by_fulfillment_order": [{"fulfillment_order_id": "1046000818"}],
            "notify_customer": False,
        }
    }


def test_a_4xx_is_a_final_step_error_carrying_shopifys_message(vendor, connect):
    shop(connect)
    errors = {"errors": {"base": ["Fulfillment order 1046000818 has an unfulfillable status= closed."]}}
    vendor.route("POST", f"{API}/fulfillments.json", status=422, body=errors)
    with pytest.raises(StepError) as exc:
        call("shopify.create_fulfillment", {"fulfillment_order_id": 1046000818})
    assert exc.value.retryable is False and "unfulfillable status= closed" in str(exc.value)


@pytest.mark.parametrize("status", [429, 502])
def test_throttling_and_5xx_are_retryable(vendor, connect, status):
    shop(connect)
    vendor.route(
        "GET", f"{API}/orders/1.json", status=status, headers={"Retry-After": "2.0"}, body={"errors": "Exceeded"}
    )
    with pytest.raises(StepError) as exc:
        call("shopify.get_order", {"order_id": 1})
    assert exc.value.retryable is True and exc.value.retry_after == 2.0


def test_the_access_token_never_appears_in_results_or_errors_even_when_echoed(vendor, connect):
    shop(connect)
    vendor.route("GET", f"{API}/orders/1.json", body={"order": {"id": 1, "email": TOKEN}})
    assert TOKEN not in str(call("shopify.get_order", {"order_id": 1}))
    vendor.route(
        "GET", f"{API}/orders/2.json", status=401, body={"errors": f"[API] Invalid API key or access token {TOKEN}"}
    )
    with pytest.raises(StepError) as exc:
        call("shopify.get_order", {"order_id": 2})
    assert TOKEN not in str(exc.value) and "Invalid API key or access token" in str(exc.value)


def test_test_runs_record_the_fulfillment_with_the_token_redacted_and_send_nothing(vendor, connect):
    shop(connect)
    result = call("shopify.create_fulfillment", {"fulfillment_order_id": 7, "tracking_number": "1Z9"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert (sent["method"], sent["url"]) == ("POST", f"{vendor.url}{API}/fulfillments.json")
    assert sent["headers"]["X-Shopify-Access-Token"] == "[redacted]" and TOKEN not in str(result)
    assert sent["json"]["fulfillment"]["tracking_info"] == {"number": "1Z9"}


@pytest.mark.parametrize("name", ["acme-store", "acme-store.myshopify.com", "https://Acme-Store.myshopify.com/"])
def test_the_shop_name_becomes_its_myshopify_host(vendor, connect, name):
    connect("shopify", shop=name, access_token=TOKEN, base_url="")
    result = call("shopify.get_shop", {}, test_mode=True)
    assert result["would_send"]["url"] == f"https://acme-store.myshopify.com{API}/shop.json"


def test_a_shop_name_that_would_point_elsewhere_is_refused(vendor, connect):
    connect("shopify", shop="evil.example/x?", access_token=TOKEN, base_url="")
    with pytest.raises(StepError, match="not a shop name"):
        call("shopify.get_shop", {})


def test_test_connection_reads_the_shop(vendor, connect):
    connection = shop(connect)
    body = {
        "shop": {
            "id": 548380009,
            "name": "John Smith Test Store",
            "myshopify_domain": "jsmith.myshopify.com",
            "plan_name": "enterprise",
            "currency": "USD",
            "email": "j.smith@example.com",
        }
    }
    vendor.route("GET", f"{API}/shop.json", body=body)
    assert connection_test(connection=connection) == (True, "")
    assert (vendor.requests[0].method, vendor.requests[0].path) == ("GET", f"{API}/shop.json")
    assert vendor.requests[0].headers["X-Shopify-Access-Token"] == TOKEN
    assert call("shopify.get_shop", {}) == {
        "id": 548380009,
        "name": "John Smith Test Store",
        "myshopify_domain": "jsmith.myshopify.com",
        "plan_name": "enterprise",
        "currency": "USD",
    }
