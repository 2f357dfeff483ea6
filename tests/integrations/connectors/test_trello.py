"""Trello: the exact REST requests (key and token in the query), and those two kept out of every output."""

from urllib.parse import parse_qs, urlsplit

import pytest

from executions.engine.errors import StepError
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
KEY = "trello-key-canary-0123456789abcdef"
TOKEN = "ATTA-trello-token-canary-fedcba9876543210"
CARD = {
    "id": "5abbe4b7ddc1b351ef961414",
    "name": "Onboard Jo",
    "desc": "Laptop, accounts, buddy",
    "idList": "5abbe4b7ddc1b351ef961400",
    "idBoard": "5abbe4b7ddc1b351ef961499",
    "idMembers": ["5a0000000000000000000001"],
    "due": "2025-07-01T09:00:00.000Z",
    "url": "https://trello.com/c/AbCd1234/12-onboard-jo",
    "shortUrl": "https://trello.com/c/AbCd1234",
}


def split(request):
    """The request's path and its query as a flat dict."""
    parts = urlsplit(request.path)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_create_card_posts_the_fields_and_credentials_as_query_parameters(vendor, connect):
    connect("trello", api_key=KEY, token=TOKEN)
    vendor.route("POST", "/1/cards", body=CARD)
    inputs = {
        "idList": "5abbe4b7ddc1b351ef961400",
        "name": "Onboard Jo",
        "desc": "Laptop, accounts, buddy",
        "due": "2025-07-01T09:00:00Z",
        "idMembers": ["5a0000000000000000000001", "5a0000000000000000000002"],
        "pos": "top",
    }
    result = call("trello.create_card", inputs)
    [request] = vendor.requests
    path, query = split(request)
    assert (request.method, path, request.body) == ("POST", "/1/cards", b"")
    assert query == {
        "key": KEY,
        "token": TOKEN,
        "idList": "5abbe4b7ddc1b351ef961400",
        "name": "Onboard Jo",
        "desc": "Laptop, accounts, buddy",
        "due": "2025-07-01T09:00:00Z",
        "pos": "top",
        "idMembers": "5a0000000000000000000001,5a0000000000000000000002",
    }
    assert request.headers["Accept"] == "application/json"
    assert result == {
        "id": "5abbe4b7ddc1b351ef961414",
        "name": "Onboard Jo",
        "url": "https://trello.com/c/AbCd1234",
        "list_id": "5abbe4b7ddc1b351ef961400",
    }


def test_a_4xx_is_not_retryable_and_carries_trellos_message_but_not_the_key_or_token(vendor, connect):
    connect("trello", api_key=KEY, token=TOKEN)
    vendor.route("POST", "/1/cards", status=400, body=f"invalid value for idList (key={KEY}, token={TOKEN})")
    with pytest.raises(StepError) as exc:
        call("trello.create_card", {"idList": "nope"})
    message = str(exc.value)
    assert exc.value.retryable is False and "invalid value for idList" in message
    assert KEY not in message and TOKEN not in message and "/1/cards answered HTTP 400" in message  # no query


@pytest.mark.parametrize("status", [429, 500])
def test_rate_limits_and_server_errors_are_retryable_and_leave_the_query_out(vendor, connect, status):
    connect("trello", api_key=KEY, token=TOKEN)
    vendor.route("POST", "/1/cards", status=status, headers={"Retry-After": "10"})
    with pytest.raises(StepError) as exc:
        call("trello.create_card", {"idList": "L1"})
    assert exc.value.retryable is True and exc.value.retry_after == 10.0
    assert KEY not in str(exc.value) and TOKEN not in str(exc.value)


def test_results_never_carry_the_key_or_token_even_when_trello_echoes_them(vendor, connect):
    connect("trello", api_key=KEY, token=TOKEN)
    vendor.route("POST", "/1/cards", body={**CARD, "name": KEY, "desc": TOKEN, "shortUrl": f"https://x?t={TOKEN}"})
    result = str(call("trello.create_card", {"idList": "L1"}))
    assert KEY not in result and TOKEN not in result


def test_test_runs_record_the_query_with_the_key_and_token_redacted_and_send_nothing(vendor, connect):
    connect("trello", api_key=KEY, token=TOKEN, base_url="")
    result = call("trello.create_card", {"idList": "L1", "name": "Card"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert (sent["method"], sent["url"]) == ("POST", "https://api.trello.com/1/cards")
    assert sent["params"] == {"key": "[redacted]", "token": "[redacted]", "idList": "L1", "name": "Card"}
    assert KEY not in str(result) and TOKEN not in str(result)


def test_the_connection_test_reads_the_current_member(vendor, connect):
    connect("trello", api_key=KEY, token=TOKEN)
    member = {
        "id": "5a0000000000000000000001",
        "username": "jo",
        "fullName": "Jo Smith",
        "url": "https://trello.com/jo",
    }
    vendor.route("GET", "/1/members/me", body=member)
    result = call("trello.current_member", {})
    [request] = vendor.requests
    path, query = split(request)
    assert (request.method, path, query) == ("GET", "/1/members/me", {"key": KEY, "token": TOKEN})
    assert result == {"id": "5a0000000000000000000001", "username": "jo", "full_name": "Jo Smith"}
