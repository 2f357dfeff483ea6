"""Mailchimp: the exact Marketing API requests (subscriber hash, Basic auth, data centre), errors and secrets."""

import base64
import hashlib

import pytest

from executions.engine.errors import StepError
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
KEY = "0123456789abcdefcanary0123456789-us21"
BASIC = "Basic " + base64.b64encode(f"faos:{KEY}".encode()).decode()
HASH = hashlib.md5(b"ada@example.com").hexdigest()
MEMBER = {
    "id": HASH,
    "email_address": "Ada@Example.com",
    "unique_email_id": "882e9bec19",
    "web_id": 123456,
    "status": "subscribed",
    "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace"},
    "list_id": "a1b2c3d4e5",
    "tags": [],
    "_links": [],
}


def test_upsert_member_puts_to_the_lower_cased_md5_hash(vendor, connect):
    connect("mailchimp", api_key=KEY)
    vendor.route("PUT", f"/3.0/lists/a1b2c3d4e5/members/{HASH}", body=MEMBER)
    result = call(
        "mailchimp.upsert_member",
        {"list_id": "a1b2c3d4e5", "email": "Ada@Example.com", "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace"}},
    )
    [request] = vendor.requests
    assert (request.method, request.path) == ("PUT", f"/3.0/lists/a1b2c3d4e5/members/{HASH}")
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "email_address": "Ada@Example.com",
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "Ada", "LNAME": "Lovelace"},
    }
    assert result == {
        "id": HASH,
        "email_address": "Ada@Example.com",
        "status": "subscribed",
        "list_id": "a1b2c3d4e5",
        "web_id": 123456,
    }


def test_upsert_member_sends_the_status_when_given(vendor, connect):
    connect("mailchimp", api_key=KEY)
    vendor.route("PUT", f"/3.0/lists/L1/members/{HASH}", body=MEMBER)
    call(
        "mailchimp.upsert_member",
        {"list_id": "L1", "email": "ada@example.com", "status_if_new": "pending", "status": "unsubscribed"},
    )
    assert vendor.requests[0].json() == {
        "email_address": "ada@example.com",
        "status_if_new": "pending",
        "status": "unsubscribed",
    }


def test_tag_member_posts_active_tags(vendor, connect):
    connect("mailchimp", api_key=KEY)
    vendor.route("POST", f"/3.0/lists/a1b2c3d4e5/members/{HASH}/tags", status=204, body=None)
    result = call("mailchimp.tag_member", {"list_id": "a1b2c3d4e5", "email": "ada@example.com", "tags": "vip, trial"})
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", f"/3.0/lists/a1b2c3d4e5/members/{HASH}/tags")
    assert request.headers["Authorization"] == BASIC
    assert request.json() == {"tags": [{"name": "vip", "status": "active"}, {"name": "trial", "status": "active"}]}
    assert result == {"list_id": "a1b2c3d4e5", "subscriber_hash": HASH, "tags": ["vip", "trial"]}


def test_tag_member_can_remove_tags(vendor, connect):
    connect("mailchimp", api_key=KEY)
    vendor.route("POST", f"/3.0/lists/L1/members/{HASH}/tags", status=204, body=None)
    call("mailchimp.tag_member", {"list_id": "L1", "email": "ada@example.com", "tags": ["trial"], "remove": True})
    assert vendor.requests[0].json() == {"tags": [{"name": "trial", "status": "inactive"}]}


def test_the_data_centre_comes_from_the_keys_suffix(vendor, connect):
    connect("mailchimp", api_key=KEY, base_url="")
    result = call("mailchimp.upsert_member", {"list_id": "L1", "email": "ada@example.com"}, test_mode=True)
    assert result["would_send"]["url"] == f"https://us21.api.mailchimp.com/3.0/lists/L1/members/{HASH}"


def test_a_key_without_a_data_centre_is_refused_before_sending(vendor, connect):
    connect("mailchimp", api_key="0123456789abcdef0123456789", base_url="")
    with pytest.raises(StepError, match="data centre") as exc:
        call("mailchimp.ping", {})
    assert not exc.value.retryable


def test_a_400_is_not_retryable_and_carries_mailchimps_detail(vendor, connect):
    connect("mailchimp", api_key=KEY)
    problem = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": "Invalid Resource",
        "status": 400,
        "detail": "Please provide a valid email address.",
        "instance": "2d5e6fd4-8dc4-4f1c-a0c1-3a2fa8e1d3f5",
    }
    vendor.route("PUT", f"/3.0/lists/L1/members/{HASH}", status=400, body=problem)
    with pytest.raises(StepError) as exc:
        call("mailchimp.upsert_member", {"list_id": "L1", "email": "ada@example.com"})
    assert not exc.value.retryable and "Please provide a valid email address." in str(exc.value)


@pytest.mark.parametrize("status", [429, 500])
def test_429_and_5xx_are_retryable(vendor, connect, status):
    connect("mailchimp", api_key=KEY)
    vendor.route("GET", "/3.0/ping", status=status, body={"title": "Too Many Requests", "status": status})
    with pytest.raises(StepError) as exc:
        call("mailchimp.ping", {})
    assert exc.value.retryable


def test_the_api_key_never_appears_in_an_error_or_a_result_even_when_echoed(vendor, connect):
    connect("mailchimp", api_key=KEY)
    vendor.route("GET", "/3.0/ping", status=401, body={"title": "API Key Invalid", "detail": f"Your key {KEY}"})
    with pytest.raises(StepError) as exc:
        call("mailchimp.ping", {})
    assert KEY not in str(exc.value) and "API Key Invalid" in str(exc.value)
    vendor.route("PUT", f"/3.0/lists/L1/members/{HASH}", body={**MEMBER, "email_address": KEY})
    assert KEY not in str(call("mailchimp.upsert_member", {"list_id": "L1", "email": "ada@example.com"}))


def test_test_runs_record_the_request_and_send_nothing(vendor, connect):
    connect("mailchimp", api_key=KEY)
    result = call("mailchimp.tag_member", {"list_id": "L1", "email": "ada@example.com", "tags": "vip"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["method"] == "POST" and sent["url"].endswith(f"/3.0/lists/L1/members/{HASH}/tags")
    assert sent["json"] == {"tags": [{"name": "vip", "status": "active"}]} and KEY not in str(result)


def test_test_runs_work_without_any_connection(vendor):
    result = call("mailchimp.ping", {}, test_mode=True)
    assert result["would_send"]["url"] == "https://<dc>.api.mailchimp.com/3.0/ping"


def test_ping_checks_the_key(vendor, connect):
    connect("mailchimp", api_key=KEY)
    vendor.route("GET", "/3.0/ping", body={"health_status": "Everything's Chimpy!"})
    assert call("mailchimp.ping", {}) == {"health_status": "Everything's Chimpy!"}
    [request] = vendor.requests
    assert (request.method, request.path, request.headers["Authorization"]) == ("GET", "/3.0/ping", BASIC)
