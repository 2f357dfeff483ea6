"""Customer.io: the exact Track and App API requests, event deduplication ids, errors and secrets."""

import base64
import re

import pytest

from executions.engine.errors import StepError
from integrations.connectors.customerio import dedupe_id
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
SITE = "site0123456789"
TRACK_KEY = "track-canary-0123456789"
APP_KEY = "app-canary-abcdef012345"
BASIC = "Basic " + base64.b64encode(f"{SITE}:{TRACK_KEY}".encode()).decode()


@pytest.fixture
def connected(vendor, connect):
    return connect("customerio", site_id=SITE, api_key=TRACK_KEY, app_api_key=APP_KEY, app_base_url=vendor.url)


def test_identify_puts_the_attributes_to_the_person(vendor, connected):
    vendor.route("PUT", "/api/v1/customers/ada@example.com", body={})
    result = call(
        "customerio.identify",
        {"id": "ada@example.com", "email": "ada@example.com", "attributes": {"plan": "pro", "created_at": 1700000000}},
    )
    [request] = vendor.requests
    assert (request.method, request.path) == ("PUT", "/api/v1/customers/ada@example.com")
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {"plan": "pro", "created_at": 1700000000, "email": "ada@example.com"}
    assert result == {"id": "ada@example.com", "identified": True}


def test_identifiers_are_escaped_in_the_path(vendor, connected):
    vendor.route("PUT", "/api/v1/customers/a%2Fb%20c", body={})
    call("customerio.identify", {"id": "a/b c"})
    assert vendor.requests[0].path == "/api/v1/customers/a%2Fb%20c"


def test_track_event_posts_name_data_and_a_ulid_from_the_idempotency_key(vendor, connected):
    vendor.route("POST", "/api/v1/customers/42/events", body={})
    result = call("customerio.track_event", {"id": "42", "name": "purchase", "data": {"price": 23.45}})
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/api/v1/customers/42/events")
    assert request.headers["Authorization"] == BASIC
    assert request.json() == {"name": "purchase", "id": dedupe_id("faos-1-step-1"), "data": {"price": 23.45}}
    assert result == {"id": "42", "name": "purchase", "tracked": True}


def test_the_event_id_is_a_ulid_stable_across_retries_and_distinct_per_key():
    first = dedupe_id("faos-1-step-1")
    assert re.fullmatch(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", first)
    assert first == dedupe_id("faos-1-step-1") != dedupe_id("faos-1-step-2")


def test_send_transactional_posts_to_the_app_api_with_the_bearer_key(vendor, connected):
    vendor.route(
        "POST", "/v1/send/email", body={"delivery_id": "RAECAAFwnUSneIa0ZXkmq8EdkAM==", "queued_at": 1500111111}
    )
    result = call(
        "customerio.send_transactional",
        {"transactional_message_id": 3, "to": "Sarah <sarah@example.io>", "message_data": {"first_name": "Sarah"}},
    )
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/v1/send/email")
    assert request.headers["Authorization"] == f"Bearer {APP_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "transactional_message_id": 3,
        "to": "Sarah <sarah@example.io>",
        "identifiers": {"email": "sarah@example.io"},
        "message_data": {"first_name": "Sarah"},
    }
    assert result == {"delivery_id": "RAECAAFwnUSneIa0ZXkmq8EdkAM==", "queued_at": 1500111111}


def test_send_transactional_uses_the_given_identifiers(vendor, connected):
    vendor.route("POST", "/v1/send/email", body={"delivery_id": "d1", "queued_at": 1})
    call(
        "customerio.send_transactional",
        {"transactional_message_id": "reset", "to": "a@x.io", "identifiers": {"id": "7"}},
    )
    assert vendor.requests[0].json()["identifiers"] == {"id": "7"}


def test_missing_keys_for_an_api_are_named_before_sending(vendor, connect):
    connect("customerio", app_api_key=APP_KEY)
    with pytest.raises(StepError, match="Site ID and API key"):
        call("customerio.track_event", {"id": "1", "name": "x"})
    assert vendor.requests == []


def test_a_400_is_not_retryable_and_carries_customerios_message(vendor, connected):
    vendor.route("POST", "/v1/send/email", status=400, body={"meta": {"error": "transactional message not found"}})
    with pytest.raises(StepError) as exc:
        call("customerio.send_transactional", {"transactional_message_id": 99, "to": "a@x.io"})
    assert not exc.value.retryable and "transactional message not found" in str(exc.value)


@pytest.mark.parametrize("status", [429, 502])
def test_429_and_5xx_are_retryable(vendor, connected, status):
    vendor.route("POST", "/api/v1/customers/42/events", status=status, body={"meta": {"error": "slow down"}})
    with pytest.raises(StepError) as exc:
        call("customerio.track_event", {"id": "42", "name": "purchase"})
    assert exc.value.retryable


def test_keys_never_appear_in_an_error_or_a_result_even_when_echoed(vendor, connected):
    vendor.route("PUT", "/api/v1/customers/1", status=401, body={"meta": {"error": f"bad key {TRACK_KEY}"}})
    with pytest.raises(StepError) as exc:
        call("customerio.identify", {"id": "1"})
    assert TRACK_KEY not in str(exc.value) and "bad key" in str(exc.value)
    vendor.route("POST", "/v1/send/email", body={"delivery_id": APP_KEY, "queued_at": 1})
    assert APP_KEY not in str(call("customerio.send_transactional", {"transactional_message_id": 1, "to": "a@x.io"}))


def test_test_runs_record_the_request_with_keys_redacted_and_send_nothing(vendor, connected):
    result = call("customerio.send_transactional", {"transactional_message_id": 1, "to": "a@x.io"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["method"] == "POST" and sent["url"].endswith("/v1/send/email")
    assert sent["headers"]["Authorization"] == "[redacted]" and APP_KEY not in str(result)


def test_test_runs_work_without_any_connection(vendor):
    result = call("customerio.track_event", {"id": "1", "name": "x"}, test_mode=True)
    assert result["would_send"]["url"] == "https://track.customer.io/api/v1/customers/1/events"
    result = call("customerio.send_transactional", {"transactional_message_id": 1, "to": "a@x.io"}, test_mode=True)
    assert result["would_send"]["url"] == "https://api.customer.io/v1/send/email"


def test_check_credentials_asks_the_track_api_for_the_region(vendor, connected):
    vendor.route(
        "GET", "/api/v1/accounts/region", body={"url": "https://track.customer.io", "region": "us", "environment_id": 3}
    )
    assert call("customerio.check_credentials", {}) == {
        "region": "us",
        "url": "https://track.customer.io",
        "environment_id": 3,
    }
    [request] = vendor.requests
    assert (request.method, request.path, request.headers["Authorization"]) == ("GET", "/api/v1/accounts/region", BASIC)


def test_check_credentials_with_only_an_app_key_lists_workspaces(vendor, connect):
    connect("customerio", app_api_key=APP_KEY, app_base_url=vendor.url)
    vendor.route("GET", "/v1/workspaces", body={"workspaces": [{"id": 1, "name": "Workspace 1", "people": 25666}]})
    assert call("customerio.check_credentials", {}) == {"workspaces": ["Workspace 1"]}
    [request] = vendor.requests
    assert (request.path, request.headers["Authorization"]) == ("/v1/workspaces", f"Bearer {APP_KEY}")
