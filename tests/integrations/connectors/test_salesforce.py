"""Salesforce: the exact REST requests, the org's instance URL, errors classified for retries, secrets kept out."""

from urllib.parse import parse_qs, urlsplit

import pytest

from executions.engine.errors import StepError
from integrations.oauth import authorize_url
from integrations.services import connection_test
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
TOKEN = "00Dxx0000001gPL!AR8AQcanary0123456789"
API = "/services/data/v60.0"
CREATED = {"id": "00Q5e00000AbCdEFGH", "errors": [], "success": True}


def test_create_lead_posts_the_fields_under_their_api_names(vendor, connect):
    connect("salesforce", access_token=TOKEN)
    vendor.route("POST", f"{API}/sobjects/Lead/", status=201, body=CREATED)
    inputs = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines",
        "email": "ada@example.com",
        "lead_source": "Web",
        "fields": {"Score__c": 7},
    }
    result = call("salesforce.create_lead", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", f"{API}/sobjects/Lead/")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Company": "Analytical Engines",
        "Email": "ada@example.com",
        "LeadSource": "Web",
        "Score__c": 7,
    }
    assert result == {"id": "00Q5e00000AbCdEFGH", "success": True, "object": "Lead"}


def test_update_lead_patches_only_the_given_fields(vendor, connect):
    connect("salesforce", access_token=TOKEN)
    vendor.route("PATCH", f"{API}/sobjects/Lead/00Q5e00000AbCdEFGH", status=204, body=None)
    result = call("salesforce.update_lead", {"id": "00Q5e00000AbCdEFGH", "status": "Working - Contacted"})
    [request] = vendor.requests
    assert (request.method, request.path) == ("PATCH", f"{API}/sobjects/Lead/00Q5e00000AbCdEFGH")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {"Status": "Working - Contacted"}
    assert result == {"id": "00Q5e00000AbCdEFGH", "updated": True, "object": "Lead"}


def test_create_contact_posts_a_contact(vendor, connect):
    connect("salesforce", access_token=TOKEN)
    vendor.route("POST", f"{API}/sobjects/Contact/", status=201, body={**CREATED, "id": "0035e00000XyZaBCDE"})
    inputs = {"last_name": "Hopper", "email": "grace@example.com", "account_id": "0015e00000QwErTyUI"}
    result = call("salesforce.create_contact", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", f"{API}/sobjects/Contact/")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {"LastName": "Hopper", "Email": "grace@example.com", "AccountId": "0015e00000QwErTyUI"}
    assert result == {"id": "0035e00000XyZaBCDE", "success": True, "object": "Contact"}


def test_update_contact_patches_the_contact(vendor, connect):
    connect("salesforce", access_token=TOKEN)
    vendor.route("PATCH", f"{API}/sobjects/Contact/0035e00000XyZaB", status=204, body=None)
    result = call("salesforce.update_contact", {"id": "0035e00000XyZaB", "title": "CTO", "fields": {"Level__c": "3"}})
    [request] = vendor.requests
    assert (request.method, request.path) == ("PATCH", f"{API}/sobjects/Contact/0035e00000XyZaB")
    assert request.json() == {"Title": "CTO", "Level__c": "3"}
    assert result == {"id": "0035e00000XyZaB", "updated": True, "object": "Contact"}


def test_upsert_patches_by_external_id_with_the_value_escaped(vendor, connect):
    connect("salesforce", access_token=TOKEN)
    path = f"{API}/sobjects/Contact/Customer_Number__c/C%2F42"
    vendor.route("PATCH", path, status=201, body={**CREATED, "id": "0035e00000XyZaBCDE", "created": True})
    inputs = {
        "object": "Contact",
        "external_id_field": "Customer_Number__c",
        "external_id": "C/42",
        "fields": {"LastName": "Hopper"},
    }
    result = call("salesforce.upsert_record", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("PATCH", path)
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {"LastName": "Hopper"}
    assert result == {"id": "0035e00000XyZaBCDE", "created": True, "object": "Contact"}


def test_a_record_id_that_is_not_a_salesforce_id_is_refused_before_sending(vendor, connect):
    connect("salesforce", access_token=TOKEN)
    with pytest.raises(StepError, match="input 'id'"):
        call("salesforce.update_lead", {"id": "../../limits", "status": "Open"})
    assert vendor.requests == []


def test_an_update_without_fields_is_refused_before_sending(vendor, connect):
    connect("salesforce", access_token=TOKEN)
    with pytest.raises(StepError, match="nothing to update"):
        call("salesforce.update_contact", {"id": "0035e00000XyZaB"})
    assert vendor.requests == []


def test_the_instance_url_from_the_sign_in_wins_over_base_url(vendor, connect):
    connect("salesforce", access_token=TOKEN, base_url="https://elsewhere.invalid", instance_url=vendor.url)
    vendor.route("GET", f"{API}/limits/", body={"DailyApiRequests": {"Max": 15000, "Remaining": 14998}})
    assert call("salesforce.limits", {})["daily_api_requests_remaining"] == 14998
    assert vendor.requests[0].path == f"{API}/limits/"


def test_a_live_run_without_an_instance_url_says_so(vendor, connect):
    connect("salesforce", access_token=TOKEN, base_url="")
    with pytest.raises(StepError, match="no instance URL"):
        call("salesforce.create_contact", {"last_name": "Hopper"})


def test_a_validation_error_is_not_retryable_and_quotes_salesforce(vendor, connect):
    connect("salesforce", access_token=TOKEN)
    error = [{"message": "Required fields are missing: [Company]", "errorCode": "REQUIRED_FIELD_MISSING"}]
    vendor.route("POST", f"{API}/sobjects/Lead/", status=400, body=error)
    with pytest.raises(StepError) as exc:
        call("salesforce.create_lead", {"last_name": "Lovelace", "company": "x"})
    assert not exc.value.retryable and "Required fields are missing: [Company]" in str(exc.value)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_retryable(vendor, connect, status):
    connect("salesforce", access_token=TOKEN)
    vendor.route("POST", f"{API}/sobjects/Contact/", status=status, body=[{"errorCode": "SERVER_UNAVAILABLE"}])
    with pytest.raises(StepError) as exc:
        call("salesforce.create_contact", {"last_name": "Hopper"})
    assert exc.value.retryable


def test_the_token_never_appears_in_errors_or_results_even_when_echoed(vendor, connect):
    connect("salesforce", access_token=TOKEN)
    vendor.route("POST", f"{API}/sobjects/Lead/", status=401, body=[{"message": f"Session expired: {TOKEN}"}])
    with pytest.raises(StepError) as exc:
        call("salesforce.create_lead", {"last_name": "L", "company": "C"})
    assert TOKEN not in str(exc.value) and not exc.value.retryable
    vendor.route("POST", f"{API}/sobjects/Contact/", status=201, body={"id": TOKEN, "success": True})
    assert TOKEN not in str(call("salesforce.create_contact", {"last_name": "H"}))


def test_test_runs_record_the_request_with_the_token_redacted_and_send_nothing(vendor, connect):
    connect("salesforce", access_token=TOKEN)
    result = call("salesforce.create_lead", {"last_name": "L", "company": "C"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["method"] == "POST" and sent["url"].endswith(f"{API}/sobjects/Lead/")
    assert sent["headers"]["Authorization"] == "[redacted]" and TOKEN not in str(result)
    assert sent["json"] == {"LastName": "L", "Company": "C"}


def test_test_runs_without_a_connection_record_a_placeholder_instance(vendor):
    result = call("salesforce.create_contact", {"last_name": "H"}, test_mode=True)
    assert result["would_send"]["url"] == f"https://MyDomainName.my.salesforce.com{API}/sobjects/Contact/"


def test_test_connection_reads_the_limits(vendor, connect):
    connection = connect("salesforce", access_token=TOKEN)
    vendor.route("GET", f"{API}/limits/", body={"DailyApiRequests": {"Max": 15000, "Remaining": 14998}})
    assert connection_test(connection=connection) == (True, "")
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", f"{API}/limits/")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}" and request.body == b""
    assert call("salesforce.limits", {}) == {"daily_api_requests_max": 15000, "daily_api_requests_remaining": 14998}


def test_sign_in_with_salesforce_asks_for_api_and_refresh_token_scopes(connect):
    connection = connect("salesforce", client_id="consumer-key", client_secret="consumer-secret")
    target = urlsplit(authorize_url(connection=connection, redirect_uri="https://faos.example/cb"))
    assert (target.netloc, target.path) == ("login.salesforce.com", "/services/oauth2/authorize")
    assert parse_qs(target.query)["scope"] == ["api refresh_token"]
