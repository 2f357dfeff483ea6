"""PayPal: a client-credentials token, then the exact REST call with it; PayPal-Request-Id and redaction."""

import base64
from urllib.parse import parse_qs

import pytest

from executions.engine.errors import StepError
from integrations.services import connection_test
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
CLIENT_ID = "AYSq3RDGsmBLJE-otTkBtM-jBRd1TCQwFf9RGfwddNXWz0uFU9ztymylOhRS"
SECRET = "EGnHDxD_qRPdaLdZz8iCr8N7_MzF-YHPTkjs6NKYQvQSBngp4PTTVWkPZRbL-canary"
TOKEN = "A21AAFEpH4PsADK7qSS7pSRsgzfENtu-Q1ysgEDVDESseMHBYXVJYE8ovjj68elIDy8nF26AwPhfXTIeWAZHSLIsQkSYz9ifg"
TOKEN_BODY = {
    "scope": "https://uri.paypal.com/services/payments/refund",
    "access_token": TOKEN,
    "token_type": "Bearer",
    "app_id": "APP-80W284485P519543T",
    "expires_in": 31668,
    "nonce": "2026-11-24T20:00:00ZWs9zQ",
}
REFUND = {
    "id": "1JU08902781691411",
    "amount": {"value": "10.99", "currency_code": "USD"},
    "seller_payable_breakdown": {"gross_amount": {"value": "10.99", "currency_code": "USD"}},
    "invoice_id": "INV-1042",
    "status": "COMPLETED",
    "note_to_payer": "Defective product",
    "links": [{"href": "https://api-m.paypal.com/v2/payments/refunds/1JU08902781691411", "rel": "self"}],
}
ORDER = {
    "id": "5O190127TN364715T",
    "status": "COMPLETED",
    "intent": "CAPTURE",
    "payer": {
        "name": {"given_name": "John", "surname": "Doe"},
        "email_address": "customer@example.com",
        "payer_id": "QYR5Z8XDVJNXQ",
    },
    "purchase_units": [
        {
            "reference_id": "d9f80740-38f0-11e8-b467-0ed5f89f718b",
            "amount": {"currency_code": "USD", "value": "100.00"},
            "payments": {
                "captures": [
                    {
                        "id": "3C679366HH908993F",
                        "status": "COMPLETED",
                        "amount": {"currency_code": "USD", "value": "100.00"},
                    }
                ]
            },
        }
    ],
    "create_time": "2026-11-20T10:00:00Z",
    "links": [{"href": "https://api-m.paypal.com/v2/checkout/orders/5O190127TN364715T", "rel": "self"}],
}


@pytest.fixture
def paypal(vendor, connect):
    connect("paypal", client_id=CLIENT_ID, client_secret=SECRET)
    vendor.route("POST", "/v1/oauth2/token", body=TOKEN_BODY)
    return vendor


def assert_token_request(request):
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert (request.method, request.path) == ("POST", "/v1/oauth2/token")
    assert request.headers["Authorization"] == f"Basic {basic}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {"grant_type": ["client_credentials"]}


def test_refund_fetches_a_token_then_posts_the_refund_with_paypal_request_id(paypal):
    paypal.route("POST", "/v2/payments/captures/2GG279541U471931P/refund", status=201, body=REFUND)
    inputs = {
        "capture_id": "2GG279541U471931P",
        "amount": "10.99",
        "currency_code": "USD",
        "note_to_payer": "Defective product",
        "invoice_id": "INV-1042",
    }
    result = call("paypal.refund_capture", inputs, key="faos-9-refund-2")
    token, refund = paypal.requests
    assert_token_request(token)
    assert (refund.method, refund.path) == ("POST", "/v2/payments/captures/2GG279541U471931P/refund")
    assert refund.headers["Authorization"] == f"Bearer {TOKEN}"
    assert refund.headers["Content-Type"] == "application/json"
    assert refund.headers["PayPal-Request-Id"] == "faos-9-refund-2"
    assert refund.headers["Prefer"] == "return=representation"
    assert refund.json() == {
        "amount": {"value": "10.99", "currency_code": "USD"},
        "note_to_payer": "Defective product",
        "invoice_id": "INV-1042",
    }
    assert result == {
        "id": "1JU08902781691411",
        "status": "COMPLETED",
        "amount": {"value": "10.99", "currency_code": "USD"},
        "capture_id": "2GG279541U471931P",
    }


def test_a_full_refund_sends_an_empty_body_and_numbers_become_decimal_strings(paypal):
    paypal.route("POST", "/v2/payments/captures/CAP1/refund", status=201, body=REFUND)
    call("paypal.refund_capture", {"capture_id": "CAP1"})
    assert paypal.requests[1].json() == {}
    call("paypal.refund_capture", {"capture_id": "CAP1", "amount": 12.5, "currency_code": "EUR"})
    assert paypal.requests[3].json() == {"amount": {"value": "12.50", "currency_code": "EUR"}}


def test_an_amount_needs_its_currency(paypal):
    with pytest.raises(StepError, match="currency_code"):
        call("paypal.refund_capture", {"capture_id": "CAP1", "amount": "5.00"})
    assert paypal.requests == []


def test_get_order_returns_status_payer_amount_and_captures(paypal):
    paypal.route("GET", "/v2/checkout/orders/5O190127TN364715T", body=ORDER)
    result = call("paypal.get_order", {"order_id": "5O190127TN364715T"})
    token, order = paypal.requests
    assert_token_request(token)
    assert (order.method, order.path) == ("GET", "/v2/checkout/orders/5O190127TN364715T")
    assert order.headers["Authorization"] == f"Bearer {TOKEN}" and order.body == b""
    assert result == {
        "id": "5O190127TN364715T",
        "status": "COMPLETED",
        "intent": "CAPTURE",
        "amount": {"value": "100.00", "currency_code": "USD"},
        "payer_email": "customer@example.com",
        "payer_name": "John Doe",
        "captures": [
            {"id": "3C679366HH908993F", "status": "COMPLETED", "amount": {"value": "100.00", "currency_code": "USD"}}
        ],
        "create_time": "2026-11-20T10:00:00Z",
    }


def test_a_4xx_is_a_final_step_error_carrying_paypals_message(paypal):
    error = {
        "name": "UNPROCESSABLE_ENTITY",
        "details": [{"issue": "CAPTURE_FULLY_REFUNDED", "description": "The capture has already been fully refunded"}],
        "message": "The requested action could not be performed, semantically incorrect, or failed business"
        " validation.",
        "debug_id": "b1a2c3d4e5f60",
    }
    paypal.route("POST", "/v2/payments/captures/CAP1/refund", status=422, body=error)
    with pytest.raises(StepError) as exc:
        call("paypal.refund_capture", {"capture_id": "CAP1"})
    assert exc.value.retryable is False and "CAPTURE_FULLY_REFUNDED" in str(exc.value)


def test_rejected_app_credentials_fail_at_the_token_step_without_calling_the_api(vendor, connect):
    connect("paypal", client_id=CLIENT_ID, client_secret=SECRET)
    body = {"error": "invalid_client", "error_description": "Client Authentication failed"}
    vendor.route("POST", "/v1/oauth2/token", status=401, body=body)
    with pytest.raises(StepError) as exc:
        call("paypal.get_order", {"order_id": "5O190127TN364715T"})
    assert exc.value.retryable is False and "Client Authentication failed" in str(exc.value)
    assert [r.path for r in vendor.requests] == ["/v1/oauth2/token"]


@pytest.mark.parametrize(("path", "status"), [("/v1/oauth2/token", 503), ("/v2/checkout/orders/O1", 429)])
def test_5xx_and_429_are_retryable_at_either_step(vendor, connect, path, status):
    connect("paypal", client_id=CLIENT_ID, client_secret=SECRET)
    vendor.route("POST", "/v1/oauth2/token", body=TOKEN_BODY)
    vendor.route("POST" if "oauth2" in path else "GET", path, status=status, body={"name": "INTERNAL_SERVER_ERROR"})
    with pytest.raises(StepError) as exc:
        call("paypal.get_order", {"order_id": "O1"})
    assert exc.value.retryable is True


def test_neither_the_secret_nor_the_access_token_appears_in_results_or_errors(paypal):
    paypal.route("GET", "/v2/checkout/orders/O1", body={"id": "O1", "status": f"{SECRET} {TOKEN}"})
    assert SECRET not in str(result := call("paypal.get_order", {"order_id": "O1"})) and TOKEN not in str(result)
    paypal.route("GET", "/v2/checkout/orders/O2", status=401, body={"message": f"bad token {TOKEN} for {SECRET}"})
    with pytest.raises(StepError) as exc:
        call("paypal.get_order", {"order_id": "O2"})
    assert TOKEN not in str(exc.value) and SECRET not in str(exc.value) and "bad token" in str(exc.value)
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    paypal.route("POST", "/v1/oauth2/token", status=400, body={"error_description": f"bad secret {SECRET} {basic}"})
    with pytest.raises(StepError) as exc:
        call("paypal.get_order", {"order_id": "O3"})
    assert SECRET not in str(exc.value) and basic not in str(exc.value) and "bad secret" in str(exc.value)


def test_test_runs_record_both_requests_redacted_and_send_nothing(vendor, connect):
    connect("paypal", client_id=CLIENT_ID, client_secret=SECRET)
    inputs = {"capture_id": "CAP1", "amount": "5.00", "currency_code": "USD"}
    result = call("paypal.refund_capture", inputs, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["token_request"]["url"] == f"{vendor.url}/v1/oauth2/token"
    assert sent["token_request"]["headers"]["Authorization"] == "[redacted]"
    assert sent["token_request"]["data"] == {"grant_type": "client_credentials"}
    assert (sent["method"], sent["url"]) == ("POST", f"{vendor.url}/v2/payments/captures/CAP1/refund")
    assert sent["headers"]["Authorization"] == "[redacted]" and sent["headers"]["PayPal-Request-Id"] == "faos-1-step-1"
    assert sent["json"] == {"amount": {"value": "5.00", "currency_code": "USD"}}
    assert SECRET not in str(result)


def test_the_step_run_keeps_both_requests_with_the_secret_and_token_redacted(paypal):
    from integrations.actions import ActionContext, run_action
    from integrations.services import connection_credentials

    paypal.route("GET", "/v2/checkout/orders/O1", body=ORDER)
    ctx = ActionContext(
        idempotency_key="faos-1-step-1",
        timeout=5,
        credentials=lambda service, name: connection_credentials(service=service, name=name, test_mode=False),
    )
    run_action("paypal.get_order", {"order_id": "O1"}, ctx)
    token, order = ctx.sent
    assert (token["method"], token["url"]) == ("POST", f"{paypal.url}/v1/oauth2/token")
    assert token["headers"]["Authorization"] == "[redacted]" and token["data"] == {"grant_type": "client_credentials"}
    assert (order["method"], order["url"]) == ("GET", f"{paypal.url}/v2/checkout/orders/O1")
    assert order["headers"]["Authorization"] == "[redacted]"
    assert SECRET not in str(ctx.sent) and TOKEN not in str(ctx.sent)


def test_test_runs_without_a_connection_show_the_live_api_host(vendor):
    result = call("paypal.get_order", {"order_id": "O1"}, test_mode=True)
    assert result["would_send"]["url"] == "https://api-m.paypal.com/v2/checkout/orders/O1"
    assert result["would_send"]["token_request"]["url"] == "https://api-m.paypal.com/v1/oauth2/token"


def test_test_connection_fetches_a_token_and_never_returns_it(vendor, connect):
    connection = connect("paypal", client_id=CLIENT_ID, client_secret=SECRET)
    vendor.route("POST", "/v1/oauth2/token", body=TOKEN_BODY)
    assert connection_test(connection=connection) == (True, "")
    assert_token_request(vendor.requests[0])
    result = call("paypal.check_credentials", {})
    assert result == {"app_id": "APP-80W284485P519543T", "token_type": "Bearer", "expires_in": 31668}
