"""Pipedrive: the exact v2 requests with the x-api-token header, errors classified, and the token kept out."""

import pytest

from executions.engine.errors import StepError
from integrations.services import connection_test
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
TOKEN = "659c9fddb16335e48cc67114694b5canary"
PERSON = {
    "success": True,
    "data": {
        "id": 42,
        "name": "Ada Lovelace",
        "owner_id": 7,
        "org_id": 5,
        "emails": [{"value": "ada@example.com", "primary": True, "label": "work"}],
        "phones": [{"value": "+44 20 7946 0000", "primary": True, "label": "work"}],
        "add_time": "2026-11-24T10:00:00Z",
        "visible_to": 3,
    },
}
DEAL = {
    "success": True,
    "data": {
        "id": 77,
        "title": "Acme renewal",
        "value": 1500.5,
        "currency": "EUR",
        "person_id": 42,
        "stage_id": 2,
        "pipeline_id": 1,
        "status": "open",
    },
}


def test_create_person_posts_emails_and_phones_with_the_token_header(vendor, connect):
    connect("pipedrive", api_token=TOKEN)
    vendor.route("POST", "/api/v2/persons", body=PERSON)
    inputs = {"name": "Ada Lovelace", "email": ["ada@example.com", "ada@home.example"], "phone": "+44 20 7946 0000"}
    result = call("pipedrive.create_person", {**inputs, "org_id": 5})
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/api/v2/persons")  # no api_token in the query
    assert request.headers["x-api-token"] == TOKEN
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "name": "Ada Lovelace",
        "emails": [
            {"value": "ada@example.com", "primary": True, "label": "work"},
            {"value": "ada@home.example", "primary": False, "label": "work"},
        ],
        "phones": [{"value": "+44 20 7946 0000", "primary": True, "label": "work"}],
        "org_id": 5,
    }
    assert result == {"id": 42, "name": "Ada Lovelace", "org_id": 5, "owner_id": 7}


def test_create_deal_posts_value_currency_person_and_stage(vendor, connect):
    connect("pipedrive", api_token=TOKEN)
    vendor.route("POST", "/api/v2/deals", body=DEAL)
    inputs = {"title": "Acme renewal", "value": 1500.5, "currency": "EUR", "person_id": 42, "stage_id": 2}
    result = call("pipedrive.create_deal", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/api/v2/deals")
    assert request.headers["x-api-token"] == TOKEN
    assert request.json() == inputs
    assert result == {
        "id": 77,
        "title": "Acme renewal",
        "value": 1500.5,
        "currency": "EUR",
        "stage_id": 2,
        "status": "open",
    }


def test_a_lowercase_currency_is_refused_before_sending(vendor, connect):
    connect("pipedrive", api_token=TOKEN)
    with pytest.raises(StepError, match="input 'currency'"):
        call("pipedrive.create_deal", {"title": "Acme", "currency": "eur"})
    assert vendor.requests == []


def test_a_validation_error_is_not_retryable_and_quotes_pipedrive(vendor, connect):
    connect("pipedrive", api_token=TOKEN)
    error = {"success": False, "error": "Person not found", "error_info": "Please check developers.pipedrive.com"}
    vendor.route("POST", "/api/v2/deals", status=404, body=error)
    with pytest.raises(StepError) as exc:
        call("pipedrive.create_deal", {"title": "Acme", "person_id": 999})
    assert not exc.value.retryable and "Person not found" in str(exc.value)


def test_success_false_in_a_200_answer_is_a_step_error(vendor, connect):
    connect("pipedrive", api_token=TOKEN)
    vendor.route("POST", "/api/v2/persons", body={"success": False, "error": "Name must be given"})
    with pytest.raises(StepError, match="Name must be given"):
        call("pipedrive.create_person", {"name": "x"})


@pytest.mark.parametrize("status", [500, 429])
def test_server_errors_and_rate_limits_are_retryable(vendor, connect, status):
    connect("pipedrive", api_token=TOKEN)
    vendor.route("POST", "/api/v2/persons", status=status, headers={"Retry-After": "2"}, body={"success": False})
    with pytest.raises(StepError) as exc:
        call("pipedrive.create_person", {"name": "Ada"})
    assert exc.value.retryable and exc.value.retry_after == 2.0


def test_the_token_never_appears_in_errors_or_results_even_when_echoed(vendor, connect):
    connect("pipedrive", api_token=TOKEN)
    vendor.route("POST", "/api/v2/persons", status=401, body={"success": False, "error": f"Unknown token {TOKEN}"})
    with pytest.raises(StepError) as exc:
        call("pipedrive.create_person", {"name": "Ada"})
    assert TOKEN not in str(exc.value) and "Unknown token" in str(exc.value)
    vendor.route("POST", "/api/v2/persons", body={"success": True, "data": {"id": 1, "name": TOKEN}})
    assert TOKEN not in str(call("pipedrive.create_person", {"name": "Ada"}))


def test_test_runs_record_the_request_with_the_token_redacted_and_send_nothing(vendor, connect):
    connect("pipedrive", api_token=TOKEN)
    result = call("pipedrive.create_deal", {"title": "Acme", "value": 10}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["method"] == "POST" and sent["url"].endswith("/api/v2/deals")
    assert sent["headers"]["x-api-token"] == "[redacted]" and TOKEN not in str(result)
    assert sent["json"] == {"title": "Acme", "value": 10}


def test_test_runs_without_a_connection_record_the_real_host(vendor):
    result = call("pipedrive.create_person", {"name": "Ada"}, test_mode=True)
    assert result["would_send"]["url"] == "https://api.pipedrive.com/api/v2/persons"


def test_test_connection_reads_the_current_user(vendor, connect):
    connection = connect("pipedrive", api_token=TOKEN)
    me = {"id": 7, "name": "Grace", "email": "grace@example.com", "company_id": 3, "company_domain": "acme"}
    vendor.route("GET", "/api/v1/users/me", body={"success": True, "data": me})
    assert connection_test(connection=connection) == (True, "")
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", "/api/v1/users/me")
    assert request.headers["x-api-token"] == TOKEN and request.body == b""
    assert call("pipedrive.me", {}) == {"id": 7, "name": "Grace", "company_id": 3, "company_domain": "acme"}
