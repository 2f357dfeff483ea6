"""Google Workspace: the exact Directory API requests, and neither token nor the new user's password ever shown."""

import string
from urllib.parse import parse_qs, urlsplit

import pytest

from executions.engine.errors import StepError
from integrations.actions import ActionContext, run_action
from integrations.connectors.google_workspace import strong_password
from integrations.oauth import authorize_url
from integrations.services import connection_credentials, connection_test
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
TOKEN = "ya29.a0canary-0123456789abcdef"
USERS = "/admin/directory/v1/users"
NEW_USER = {"primary_email": "liz@example.com", "given_name": "Elizabeth", "family_name": "Smith"}
CREATED = {
    "kind": "admin#directory#user",
    "id": "118234567890123456789",
    "primaryEmail": "liz@example.com",
    "name": {"givenName": "Elizabeth", "familyName": "Smith", "fullName": "Elizabeth Smith"},
    "isAdmin": False,
    "creationTime": "2026-11-24T10:00:00.000Z",
    "customerId": "C03az79cb",
    "orgUnitPath": "/Sales",
    "changePasswordAtNextLogin": True,
    "isMailboxSetup": False,
}


def test_create_user_posts_the_documented_body(vendor, connect):
    connect("google_workspace", access_token=TOKEN)
    vendor.route("POST", USERS, body=CREATED)
    inputs = {**NEW_USER, "password": "Correct-Horse-42", "org_unit_path": "/Sales", "recovery_email": "l@home.example"}
    result = call("google_workspace.create_user", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", USERS)
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "primaryEmail": "liz@example.com",
        "name": {"givenName": "Elizabeth", "familyName": "Smith"},
        "password": "Correct-Horse-42",
        "changePasswordAtNextLogin": True,
        "orgUnitPath": "/Sales",
        "recoveryEmail": "l@home.example",
    }
    assert result == {
        "id": "118234567890123456789",
        "primary_email": "liz@example.com",
        "org_unit_path": "/Sales",
        "password_generated": False,
        "change_password_at_next_login": True,
    }


def test_without_a_password_a_strong_one_is_sent_and_only_a_flag_returned(vendor, connect):
    connect("google_workspace", access_token=TOKEN)
    vendor.route("POST", USERS, body={**CREATED, "orgUnitPath": "/"})
    result = call("google_workspace.create_user", {**NEW_USER, "change_password_at_next_login": False})
    sent = vendor.requests[0].json()
    password = sent["password"]
    assert len(password) >= 20 and sent["changePasswordAtNextLogin"] is False and sent["orgUnitPath"] == "/"
    assert result["password_generated"] is True and password not in str(result)


def test_generated_passwords_mix_every_character_class_and_differ():
    passwords = {strong_password() for _ in range(20)}
    assert len(passwords) == 20
    for password in passwords:
        assert all(any(c in group for c in password) for group in (string.ascii_lowercase, string.digits))
        assert any(c.isupper() for c in password) and any(not c.isalnum() for c in password)


def test_the_password_is_hidden_in_the_recorded_request_and_in_an_echoing_error(vendor, connect):
    connect("google_workspace", access_token=TOKEN)
    vendor.route("POST", USERS, status=400, body={"error": {"code": 400, "message": "Invalid Password: Hunter2-xyz"}})
    ctx = ActionContext(
        idempotency_key="faos-1-step-1",
        timeout=5,
        credentials=lambda service, name: connection_credentials(service=service, name=name, test_mode=False),
    )
    with pytest.raises(StepError) as exc:
        run_action("google_workspace.create_user", {**NEW_USER, "password": "Hunter2-xyz"}, ctx)
    assert "Hunter2-xyz" not in str(exc.value) and "Invalid Password" in str(exc.value)
    [recorded] = ctx.sent
    assert recorded["json"]["password"] == "[redacted]" and TOKEN not in str(recorded)


def test_an_existing_address_is_a_conflict_that_is_not_retried(vendor, connect):
    connect("google_workspace", access_token=TOKEN)
    error = {"code": 409, "message": "Entity already exists.", "errors": [{"reason": "duplicate"}]}
    vendor.route("POST", USERS, status=409, body={"error": error})
    with pytest.raises(StepError) as exc:
        call("google_workspace.create_user", NEW_USER)
    assert not exc.value.retryable and "Entity already exists." in str(exc.value)


@pytest.mark.parametrize("status", [503, 429])
def test_server_errors_and_rate_limits_are_retryable(vendor, connect, status):
    connect("google_workspace", access_token=TOKEN)
    vendor.route("POST", USERS, status=status, body={"error": {"code": status, "message": "Backend Error"}})
    with pytest.raises(StepError) as exc:
        call("google_workspace.create_user", NEW_USER)
    assert exc.value.retryable


def test_the_token_never_appears_in_errors_or_results_even_when_echoed(vendor, connect):
    connect("google_workspace", access_token=TOKEN)
    vendor.route("POST", USERS, status=401, body={"error": {"code": 401, "message": f"Invalid Credentials {TOKEN}"}})
    with pytest.raises(StepError) as exc:
        call("google_workspace.create_user", NEW_USER)
    assert TOKEN not in str(exc.value) and "Invalid Credentials" in str(exc.value)
    vendor.route("POST", USERS, body={**CREATED, "id": TOKEN})
    assert TOKEN not in str(call("google_workspace.create_user", NEW_USER))


def test_test_runs_record_the_request_with_token_and_password_redacted_and_send_nothing(vendor, connect):
    connect("google_workspace", access_token=TOKEN)
    result = call("google_workspace.create_user", {**NEW_USER, "password": "Correct-Horse-42"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    sent = result["would_send"]
    assert sent["method"] == "POST" and sent["url"].endswith(USERS)
    assert sent["headers"]["Authorization"] == "[redacted]" and sent["json"]["password"] == "[redacted]"
    assert TOKEN not in str(result) and "Correct-Horse-42" not in str(result)


def test_test_runs_without_a_connection_record_the_real_host_and_no_password(vendor):
    result = call("google_workspace.create_user", NEW_USER, test_mode=True)
    assert result["would_send"]["url"] == f"https://admin.googleapis.com{USERS}"
    assert result["would_send"]["json"]["password"] == "[redacted]"


def test_test_connection_lists_one_user_of_my_customer(vendor, connect):
    connection = connect("google_workspace", access_token=TOKEN)
    vendor.route("GET", USERS, body={"kind": "admin#directory#users", "users": [CREATED], "nextPageToken": "x"})
    assert connection_test(connection=connection) == (True, "")
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", f"{USERS}?customer=my_customer&maxResults=1")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}" and request.body == b""
    result = call("google_workspace.list_users", {})
    assert result == {"customer_id": "C03az79cb", "first_user": "liz@example.com"}


def test_sign_in_with_google_asks_for_the_directory_user_scope(connect):
    connection = connect("google_workspace", client_id="cid.apps.googleusercontent.com", client_secret="csecret")
    target = urlsplit(authorize_url(connection=connection, redirect_uri="https://faos.example/cb"))
    assert (target.netloc, target.path) == ("accounts.google.com", "/o/oauth2/v2/auth")
    assert parse_qs(target.query)["scope"] == ["https://www.googleapis.com/auth/admin.directory.user"]
