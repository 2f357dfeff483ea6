"""Stripe: the exact REST requests (form-encoded, bracket notation, Idempotency-Key), pagination and redaction."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from executions.engine.errors import StepError
from integrations.services import connection_test
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
KEY = "sk_test_canary_4eC39HqLyjWDarjtT1zdp7dc"
INVOICE = {
    "id": "in_1MtHbELkdIwHu7ixl4OzzPMv",
    "object": "invoice",
    "number": "A1B2C3-0007",
    "status": "open",
    "customer": "cus_NeZwdNtLEOXuvB",
    "customer_email": "jenny@example.com",
    "customer_name": "Jenny Rosen",
    "currency": "usd",
    "amount_due": 4200,
    "amount_paid": 0,
    "amount_remaining": 4200,
    "due_date": 1700000000,
    "hosted_invoice_url": "https://invoice.stripe.com/i/acct_1/test_YWNjdF8x",
    "invoice_pdf": "https://pay.stripe.com/invoice/acct_1/test_YWNjdF8x/pdf",
    "lines": {"object": "list", "data": []},
}
SUMMARY = {k: v for k, v in INVOICE.items() if k not in ("object", "lines")}


def query(request) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}


class Pages:
    """A fake-server route answering each request with the next body (Stripe list pages)."""

    status, delay, headers = 200, 0.0, {}

    def __init__(self, *bodies):
        self.bodies = list(bodies)

    @property
    def body(self):
        return self.bodies.pop(0)


def test_get_customer_sends_a_bearer_get_and_returns_the_contact_fields(vendor, connect):
    connect("stripe", secret_key=KEY)
    customer = {
        "id": "cus_NffrFeUfNV2Hib",
        "object": "customer",
        "email": "jennyrosen@example.com",
        "name": "Jenny Rosen",
        "phone": None,
        "currency": "usd",
        "balance": 0,
        "delinquent": True,
        "created": 1680893993,
        "metadata": {},
    }
    vendor.route("GET", "/v1/customers/cus_NffrFeUfNV2Hib", body=customer)
    result = call("stripe.get_customer", {"customer_id": "cus_NffrFeUfNV2Hib"})
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", "/v1/customers/cus_NffrFeUfNV2Hib")
    assert request.headers["Authorization"] == f"Bearer {KEY}" and "Idempotency-Key" not in request.headers
    assert request.body == b""
    assert result == {
        "id": "cus_NffrFeUfNV2Hib",
        "email": "jennyrosen@example.com",
        "name": "Jenny Rosen",
        "phone": None,
        "currency": "usd",
        "balance": 0,
        "delinquent": True,
        "created": 1680893993,
        "deleted": False,
    }


def test_get_invoice_returns_amounts_due_date_and_payment_link(vendor, connect):
    connect("stripe", secret_key=KEY)
    vendor.route("GET", f"/v1/invoices/{INVOICE['id']}", body=INVOICE)
    assert call("stripe.get_invoice", {"invoice_id": INVOICE["id"]}) == SUMMARY
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", f"/v1/invoices/{INVOICE['id']}")
    assert request.headers["Authorization"] == f"Bearer {KEY}"


def test_ids_that_would_change_the_url_path_are_refused_before_sending(vendor, connect):
    connect("stripe", secret_key=KEY)
    with pytest.raises(StepError, match="customer_id"):
        call("stripe.get_customer", {"customer_id": "../v1/balance"})
    assert vendor.requests == []


def test_overdue_invoices_filters_open_past_due_and_pages_with_starting_after(vendor, connect):
    connect("stripe", secret_key=KEY)
    second = {**INVOICE, "id": "in_2"}
    vendor.routes[("GET", "/v1/invoices")] = Pages(
        {"object": "list", "url": "/v1/invoices", "has_more": True, "data": [INVOICE, second]},
        {"object": "list", "url": "/v1/invoices", "has_more": True, "data": [{**INVOICE, "id": "in_3"}]},
    )
    before = int(time.time())
    result = call("stripe.list_overdue_invoices", {"customer_id": "cus_NeZwdNtLEOXuvB", "limit": 3})
    first, then = vendor.requests
    assert first.method == "GET" and first.path.startswith("/v1/invoices?")
    assert first.headers["Authorization"] == f"Bearer {KEY}"
    now = int(query(first)["due_date[lt]"])
    assert before <= now <= time.time()
    assert query(first) == {"status": "open", "due_date[lt]": str(now), "limit": "3", "customer": "cus_NeZwdNtLEOXuvB"}
    assert query(then) == {
        "status": "open",
        "due_date[lt]": str(now),  # the same "now" on every page
        "limit": "1",
        "customer": "cus_NeZwdNtLEOXuvB",
        "starting_after": "in_2",
    }
    assert [i["id"] for i in result["invoices"]] == [INVOICE["id"], "in_2", "in_3"]
    assert result["invoices"][0] == SUMMARY and result["count"] == 3 and result["has_more"] is True


def test_overdue_invoices_stop_when_stripe_has_no_more(vendor, connect):
    connect("stripe", secret_key=KEY)
    vendor.route("GET", "/v1/invoices", body={"object": "list", "has_more": False, "data": [INVOICE]})
    result = call("stripe.list_overdue_invoices", {})
    assert len(vendor.requests) == 1 and query(vendor.requests[0])["limit"] == "100"
    assert result == {"invoices": [SUMMARY], "count": 1, "has_more": False}


def test_refund_posts_a_form_with_bracketed_metadata_and_the_idempotency_key(vendor, connect):
    connect("stripe", secret_key=KEY)
    refund = {
        "id": "re_1Nispe2eZvKYlo2Cd31jOCgZ",
        "object": "refund",
        "amount": 1500,
        "balance_transaction": "txn_1Nispe2eZvKYlo2CYezqFhEx",
        "charge": "ch_1NirD82eZvKYlo2CIvbtLWuY",
        "currency": "usd",
        "payment_intent": "pi_3NirD82eZvKYlo2C1Tkqbk4k",
        "reason": "requested_by_customer",
        "status": "succeeded",
        "metadata": {"ticket": "T-42"},
    }
    vendor.route("POST", "/v1/refunds", body=refund)
    inputs = {
        "payment_intent": "pi_3NirD82eZvKYlo2C1Tkqbk4k",
        "amount": 1500,
        "reason": "requested_by_customer",
        "metadata": {"ticket": "T-42", "approved": True},
    }
    result = call("stripe.refund", inputs, key="faos-7-refund-1")
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/v1/refunds")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Idempotency-Key"] == "faos-7-refund-1"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {
        "payment_intent": ["pi_3NirD82eZvKYlo2C1Tkqbk4k"],
        "amount": ["1500"],
        "reason": ["requested_by_customer"],
        "metadata[ticket]": ["T-42"],
        "metadata[approved]": ["true"],
    }
    assert result == {
        "id": "re_1Nispe2eZvKYlo2Cd31jOCgZ",
        "status": "succeeded",
        "amount": 1500,
        "currency": "usd",
        "payment_intent": "pi_3NirD82eZvKYlo2C1Tkqbk4k",
        "charge": "ch_1NirD82eZvKYlo2CIvbtLWuY",
        "reason": "requested_by_customer",
    }


def test_a_full_refund_of_a_charge_sends_only_the_charge(vendor, connect):
    connect("stripe", secret_key=KEY)
    vendor.route("POST", "/v1/refunds", body={"id": "re_1", "status": "pending"})
    call("stripe.refund", {"charge": "ch_1NirD82eZvKYlo2CIvbtLWuY"})
    assert parse_qs(vendor.requests[0].body.decode()) == {"charge": ["ch_1NirD82eZvKYlo2CIvbtLWuY"]}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [({"amount": 100}, "refund"), ({"payment_intent": "pi_1", "charge": "ch_1"}, "not both")],
)
def test_refund_needs_exactly_one_of_payment_intent_or_charge(vendor, connect, inputs, message):
    connect("stripe", secret_key=KEY)
    with pytest.raises(StepError, match=message):
        call("stripe.refund", inputs)
    assert vendor.requests == []


def test_a_4xx_is_a_final_step_error_carrying_stripes_message(vendor, connect):
    connect("stripe", secret_key=KEY)
    error = {
        "error": {
            "code": "resource_missing",
            "message": "No such customer: 'cus_missing'",
            "param": "id",
            "type": "invalid_request_error",
        }
    }
    vendor.route("GET", "/v1/customers/cus_missing", status=404, body=error)
    with pytest.raises(StepError) as exc:
        call("stripe.get_customer", {"customer_id": "cus_missing"})
    assert exc.value.retryable is False and "No such customer: 'cus_missing'" in str(exc.value)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_5xx_are_retryable(vendor, connect, status):
    connect("stripe", secret_key=KEY)
    vendor.route("POST", "/v1/refunds", status=status, body={"error": {"type": "api_error", "message": "Try again"}})
    with pytest.raises(StepError) as exc:
        call("stripe.refund", {"charge": "ch_1"})
    assert exc.value.retryable is True


def test_the_secret_key_never_appears_in_results_or_errors_even_when_echoed(vendor, connect):
    connect("stripe", secret_key=KEY)
    vendor.route("GET", "/v1/customers/cus_1", body={"id": "cus_1", "name": f"key {KEY}"})
    assert KEY not in str(call("stripe.get_customer", {"customer_id": "cus_1"}))
    vendor.route("GET", "/v1/customers/cus_2", status=401, body={"error": {"message": f"Invalid API Key: {KEY}"}})
    with pytest.raises(StepError) as exc:
        call("stripe.get_customer", {"customer_id": "cus_2"})
    assert KEY not in str(exc.value) and "Invalid API Key" in str(exc.value)


def test_test_runs_record_the_refund_with_credentials_redacted_and_send_nothing(vendor, connect):
    connect("stripe", secret_key=KEY)
    result = call("stripe.refund", {"charge": "ch_1", "amount": 500, "metadata": {"a": "b"}}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["method"] == "POST" and sent["url"] == f"{vendor.url}/v1/refunds"
    assert sent["headers"]["Authorization"] == "[redacted]" and KEY not in str(result)
    assert sent["data"] == {"charge": "ch_1", "amount": 500, "metadata[a]": "b"}
    assert sent["headers"]["Idempotency-Key"] == "faos-1-step-1"  # shown: it is no credential


def test_test_runs_without_a_connection_show_the_real_api_host(vendor):
    result = call("stripe.get_invoice", {"invoice_id": "in_1"}, test_mode=True)
    assert result["would_send"]["url"] == "https://api.stripe.com/v1/invoices/in_1"


def test_test_connection_reads_the_balance(vendor, connect):
    connection = connect("stripe", secret_key=KEY)
    balance = {
        "object": "balance",
        "available": [{"amount": 666670, "currency": "usd", "source_types": {"card": 666670}}],
        "livemode": False,
        "pending": [{"amount": 61414, "currency": "usd", "source_types": {"card": 61414}}],
    }
    vendor.route("GET", "/v1/balance", body=balance)
    assert connection_test(connection=connection) == (True, "")
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", "/v1/balance")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert call("stripe.get_balance", {}) == {
        "livemode": False,
        "available": [{"amount": 666670, "currency": "usd"}],
        "pending": [{"amount": 61414, "currency": "usd"}],
    }
