"""HubSpot: the exact CRM v3 requests, batch errors, retries, and tokens kept out of every output."""

from urllib.parse import parse_qs, urlsplit

import pytest

from executions.engine.errors import StepError
from integrations.oauth import authorize_url
from integrations.services import connection_test
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
TOKEN = "pat-na1-canary-0123456789abcdef"
UPSERT = "/crm/v3/objects/contacts/batch/upsert"
UPSERTED = {
    "status": "COMPLETE",
    "results": [
        {
            "id": "512",
            "new": True,
            "properties": {"email": "ada@example.com", "firstname": "Ada"},
            "createdAt": "2026-11-24T10:00:00Z",
            "updatedAt": "2026-11-24T10:00:00Z",
            "archived": False,
        }
    ],
    "startedAt": "2026-11-24T10:00:00Z",
    "completedAt": "2026-11-24T10:00:01Z",
}
DEAL = {
    "id": "9001",
    "properties": {"dealname": "Acme renewal", "dealstage": "appointmentscheduled", "pipeline": "default"},
    "createdAt": "2026-11-24T10:00:00Z",
    "archived": False,
}


def test_upsert_contact_sends_a_batch_upsert_by_email(vendor, connect):
    connect("hubspot", private_app_token=TOKEN)
    vendor.route("POST", UPSERT, body=UPSERTED)
    inputs = {"email": "ada@example.com", "firstname": "Ada", "lastname": "", "properties": {"score": 7}}
    result = call("hubspot.upsert_contact", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", UPSERT)
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    properties = {"email": "ada@example.com", "firstname": "Ada", "score": "7"}
    assert request.json() == {"inputs": [{"id": "ada@example.com", "idProperty": "email", "properties": properties}]}
    assert result == {"id": "512", "email": "ada@example.com", "created": True}


def test_an_upsert_answered_with_only_errors_fails_with_hubspots_message(vendor, connect):
    connect("hubspot", private_app_token=TOKEN)
    body = {"status": "COMPLETE", "results": [], "errors": [{"message": "Property values were not valid"}]}
    vendor.route("POST", UPSERT, status=207, body=body)
    with pytest.raises(StepError, match="Property values were not valid") as exc:
        call("hubspot.upsert_contact", {"email": "ada@example.com"})
    assert not exc.value.retryable


def test_create_deal_sends_properties_and_the_contact_association(vendor, connect):
    connect("hubspot", private_app_token=TOKEN)
    vendor.route("POST", "/crm/v3/objects/deals", status=201, body=DEAL)
    inputs = {"dealname": "Acme renewal", "amount": 1500.5, "dealstage": "appointmentscheduled", "contact_id": "512"}
    result = call("hubspot.create_deal", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/crm/v3/objects/deals")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {
        "properties": {
            "dealname": "Acme renewal",
            "dealstage": "appointmentscheduled",
            "pipeline": "default",
            "amount": "1500.5",
        },
        "associations": [
            {"to": {"id": "512"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}
        ],
    }
    assert result == {
        "id": "9001",
        "dealname": "Acme renewal",
        "dealstage": "appointmentscheduled",
        "pipeline": "default",
    }


def test_create_deal_without_a_contact_sends_no_associations(vendor, connect):
    connect("hubspot", private_app_token=TOKEN)
    vendor.route("POST", "/crm/v3/objects/deals", status=201, body=DEAL)
    call("hubspot.create_deal", {"dealname": "Acme", "dealstage": "qualifiedtobuy", "pipeline": "sales"})
    body = vendor.requests[0].json()
    assert "associations" not in body and body["properties"]["pipeline"] == "sales"


def test_a_token_from_sign_in_with_hubspot_is_used_when_none_is_pasted(vendor, connect):
    connect("hubspot", client_id="cid", client_secret="csecret", access_token="oauth-access-token-1")
    vendor.route("GET", "/account-info/v3/details", body={"portalId": 62515})
    call("hubspot.account_info", {})
    assert vendor.requests[0].headers["Authorization"] == "Bearer oauth-access-token-1"


def test_a_validation_error_is_not_retryable_and_quotes_hubspot(vendor, connect):
    connect("hubspot", private_app_token=TOKEN)
    error = {"status": "error", "message": "Property values were not valid: dealstage", "category": "VALIDATION_ERROR"}
    vendor.route("POST", "/crm/v3/objects/deals", status=400, body=error)
    with pytest.raises(StepError) as exc:
        call("hubspot.create_deal", {"dealname": "Acme", "dealstage": "nope"})
    assert not exc.value.retryable and "Property values were not valid: dealstage" in str(exc.value)


@pytest.mark.parametrize("status", [502, 429])
def test_server_errors_and_rate_limits_are_retryable(vendor, connect, status):
    connect("hubspot", private_app_token=TOKEN)
    vendor.route("POST", UPSERT, status=status, headers={"Retry-After": "10"}, body={"message": "slow down"})
    with pytest.raises(StepError) as exc:
        call("hubspot.upsert_contact", {"email": "ada@example.com"})
    assert exc.value.retryable


def test_the_token_never_appears_in_errors_or_results_even_when_echoed(vendor, connect):
    connect("hubspot", private_app_token=TOKEN)
    vendor.route("POST", "/crm/v3/objects/deals", status=401, body={"message": f"Invalid token {TOKEN}"})
    with pytest.raises(StepError) as exc:
        call("hubspot.create_deal", {"dealname": "Acme", "dealstage": "s"})
    assert TOKEN not in str(exc.value) and "Invalid token" in str(exc.value)
    vendor.route("POST", "/crm/v3/objects/deals", status=201, body={"id": "1", "properties": {"dealname": TOKEN}})
    assert TOKEN not in str(call("hubspot.create_deal", {"dealname": "Acme", "dealstage": "s"}))


def test_test_runs_record_the_request_with_the_token_redacted_and_send_nothing(vendor, connect):
    connect("hubspot", private_app_token=TOKEN)
    result = call("hubspot.upsert_contact", {"email": "ada@example.com"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["method"] == "POST" and sent["url"].endswith(UPSERT)
    assert sent["headers"]["Authorization"] == "[redacted]" and TOKEN not in str(result)


def test_test_runs_without_a_connection_record_the_real_host(vendor):
    result = call("hubspot.create_deal", {"dealname": "Acme", "dealstage": "s"}, test_mode=True)
    assert result["would_send"]["url"] == "https://api.hubapi.com/crm/v3/objects/deals"


def test_test_connection_reads_the_account_details(vendor, connect):
    connection = connect("hubspot", private_app_token=TOKEN)
    details = {"portalId": 62515, "accountType": "STANDARD", "timeZone": "US/Eastern", "uiDomain": "app.hubspot.com"}
    vendor.route("GET", "/account-info/v3/details", body=details)
    assert connection_test(connection=connection) == (True, "")
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", "/account-info/v3/details")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}" and request.body == b""
    assert call("hubspot.account_info", {}) == {
        "portal_id": 62515,
        "account_type": "STANDARD",
        "ui_domain": "app.hubspot.com",
    }


def test_sign_in_with_hubspot_asks_for_the_crm_scopes(connect):
    connection = connect("hubspot", client_id="cid", client_secret="csecret")
    target = urlsplit(authorize_url(connection=connection, redirect_uri="https://faos.example/cb"))
    assert (target.netloc, target.path) == ("app.hubspot.com", "/oauth/authorize")
    scopes = parse_qs(target.query)["scope"][0].split(" ")
    assert {"oauth", "crm.objects.contacts.write", "crm.objects.deals.write"} <= set(scopes)
