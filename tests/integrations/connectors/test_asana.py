"""Asana: the exact REST requests ({"data": …} bodies, Bearer token), errors and the token kept out."""

import pytest

from executions.engine.errors import StepError
from tests.integrations.connectors.conftest import call

pytestmark = pytest.mark.django_db
TOKEN = "2/1200000000000001/1209999999999999:canaryabcdef0123"


def test_create_task_posts_the_fields_wrapped_in_data_with_the_bearer_token(vendor, connect):
    connect("asana", personal_access_token=TOKEN)
    task = {
        "gid": "1204000000000042",
        "resource_type": "task",
        "name": "Onboard Jo",
        "notes": "Laptop, accounts, buddy",
        "completed": False,
        "due_on": "2025-07-01",
        "assignee": {"gid": "1200000000000001", "resource_type": "user", "name": "Sam"},
        "permalink_url": "https://app.asana.com/0/1204000000000001/1204000000000042",
    }
    vendor.route("POST", "/api/1.0/tasks", status=201, body={"data": task})
    inputs = {
        "name": "Onboard Jo",
        "notes": "Laptop, accounts, buddy",
        "projects": ["1204000000000001"],
        "workspace": "1100000000000001",
        "assignee": "me",
        "due_on": "2025-07-01",
    }
    result = call("asana.create_task", inputs)
    [request] = vendor.requests
    assert (request.method, request.path) == ("POST", "/api/1.0/tasks")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json" and request.headers["Accept"] == "application/json"
    assert request.json() == {"data": inputs}
    assert result == {
        "gid": "1204000000000042",
        "name": "Onboard Jo",
        "url": "https://app.asana.com/0/1204000000000001/1204000000000042",
    }


def test_create_task_needs_a_workspace_or_a_project_before_sending(vendor, connect):
    connect("asana", personal_access_token=TOKEN)
    with pytest.raises(StepError, match="workspace or at least one project") as exc:
        call("asana.create_task", {"name": "Orphan", "projects": []})
    assert vendor.requests == [] and exc.value.retryable is False


def test_a_4xx_is_not_retryable_and_carries_asanas_message_without_the_token(vendor, connect):
    connect("asana", personal_access_token=TOKEN)
    errors = [{"message": "projects: [0]: Not a recognized ID: 42", "help": "See https://developers.asana.com"}]
    vendor.route("POST", "/api/1.0/tasks", status=400, body={"errors": errors, "echo": TOKEN})
    with pytest.raises(StepError) as exc:
        call("asana.create_task", {"name": "x", "projects": ["42"]})
    assert exc.value.retryable is False and "Not a recognized ID: 42" in str(exc.value)
    assert TOKEN not in str(exc.value)


@pytest.mark.parametrize("status", [429, 500])
def test_rate_limits_and_server_errors_are_retryable(vendor, connect, status):
    connect("asana", personal_access_token=TOKEN)
    vendor.route("POST", "/api/1.0/tasks", status=status, headers={"Retry-After": "12"})
    with pytest.raises(StepError) as exc:
        call("asana.create_task", {"name": "x", "workspace": "1"})
    assert exc.value.retryable is True and exc.value.retry_after == 12.0


def test_results_never_carry_the_token_even_when_asana_echoes_it(vendor, connect):
    connect("asana", personal_access_token=TOKEN)
    vendor.route("POST", "/api/1.0/tasks", status=201, body={"data": {"gid": "1", "name": TOKEN}})
    assert TOKEN not in str(call("asana.create_task", {"name": "x", "workspace": "1"}))


def test_test_runs_record_the_request_with_credentials_redacted_and_send_nothing(vendor, connect):
    connect("asana", personal_access_token=TOKEN, base_url="")
    result = call("asana.create_task", {"name": "x", "workspace": "1"}, test_mode=True)
    assert vendor.requests == [] and result["test_mode"] is True
    assert result["would_send"]["url"] == "https://app.asana.com/api/1.0/tasks"
    assert result["would_send"]["json"] == {"data": {"name": "x", "workspace": "1"}}
    assert result["would_send"]["headers"]["Authorization"] == "[redacted]" and TOKEN not in str(result)


def test_the_connection_test_reads_the_current_user_and_their_workspaces(vendor, connect):
    connect("asana", personal_access_token=TOKEN)
    me = {
        "gid": "1200000000000001",
        "resource_type": "user",
        "name": "Sam Lee",
        "email": "sam@acme.test",
        "workspaces": [{"gid": "1100000000000001", "resource_type": "workspace", "name": "Acme"}],
    }
    vendor.route("GET", "/api/1.0/users/me", body={"data": me})
    result = call("asana.current_user", {})
    [request] = vendor.requests
    assert (request.method, request.path) == ("GET", "/api/1.0/users/me")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert result == {
        "gid": "1200000000000001",
        "name": "Sam Lee",
        "workspaces": [{"gid": "1100000000000001", "name": "Acme"}],
    }
