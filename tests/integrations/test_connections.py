"""Connections: ciphertext at rest, key rotation, write-only credentials, and a secret canary that never leaks."""

import base64

import pytest
from django.core import mail
from django.db import connection as db
from django.urls import reverse

from executions.models import Event, OutboxMessage
from executions.services import execution_start
from integrations.models import Connection
from integrations.services import connection_rotate_keys, connection_test
from tests.factories import workflow_with_steps
from workflows.services import workflow_activate

pytestmark = pytest.mark.django_db(transaction=True)
CANARY = "xoxb-CANARY-5f2a9c"


def stored(pk):
    with db.cursor() as cursor:
        cursor.execute("SELECT credentials FROM integrations_connection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_credentials_are_ciphertext_in_the_database():
    connection = Connection.objects.create(service="slack", credentials={"bot_token": CANARY})
    assert CANARY not in stored(connection.pk) and stored(connection.pk).startswith("gAAAA")
    assert Connection.objects.get(pk=connection.pk).credentials == {"bot_token": CANARY}


def test_key_rotation_re_encrypts_with_the_new_key(settings):
    from cryptography.fernet import Fernet

    old = Fernet.generate_key().decode()
    settings.FAOS_ENCRYPTION_KEYS = [old]
    connection = Connection.objects.create(service="slack", credentials={"bot_token": CANARY})
    before = stored(connection.pk)
    new = Fernet.generate_key().decode()
    settings.FAOS_ENCRYPTION_KEYS = [new, old]
    assert connection_rotate_keys() == 1  # one connection, no triggers
    settings.FAOS_ENCRYPTION_KEYS = [new]  # the old key is gone: only re-encrypted data still opens
    assert stored(connection.pk) != before
    assert Connection.objects.get(pk=connection.pk).credentials == {"bot_token": CANARY}


def test_the_canary_never_appears_in_step_data_errors_or_admin_pages(client, admin_user, settings, caplog):
    caplog.set_level("DEBUG")
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    from tests.fakes import FakeServer

    server = FakeServer()
    server.route("POST", "/api/chat.postMessage", status=500, body={"error": f"bad token {CANARY}"})
    Connection.objects.create(service="slack", credentials={"bot_token": CANARY, "base_url": server.url})
    workflow = workflow_with_steps(
        [
            {
                "key": "post",
                "name": "Post",
                "retry_max_attempts": 1,
                "config": {"action": "slack.post_message", "inputs": {"channel": "#x", "text": "hi"}},
            }
        ]
    )
    workflow_activate(workflow=workflow)
    execution = execution_start(workflow=workflow, input={})
    execution.refresh_from_db()
    server.close()
    assert execution.status == "failed"
    run = execution.step_runs.get()
    assert CANARY not in f"{run.input}{run.output}{run.requests}{run.error}{run.error_detail}{execution.error}"
    client.force_login(admin_user)
    pages = [
        reverse("admin:executions_execution_change", args=[execution.pk]),
        reverse("admin:integrations_connection_change", args=[Connection.objects.get().pk]),
        reverse("admin:integrations_connection_changelist"),
        f"/api/executions/{execution.pk}/",
        "/api/connections/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200 and CANARY not in response.content.decode()
    assert CANARY not in caplog.text  # nothing logged it either (the worker's log lines included)


def test_logs_never_contain_the_secret_canary(caplog, settings):
    """A run whose connection holds the canary logs its transitions (JSON and text alike) without it."""
    from faos.log_format import JsonFormatter, KeyValueFormatter
    from tests.fakes import FakeServer

    caplog.set_level("DEBUG")
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    server = FakeServer()
    server.route("POST", "/api/chat.postMessage", status=500, body={"error": f"bad token {CANARY}"})
    Connection.objects.create(service="slack", credentials={"bot_token": CANARY, "base_url": server.url})
    post = {"action": "slack.post_message", "inputs": {"channel": "#x", "text": "hi"}}
    workflow = workflow_with_steps([{"key": "post", "name": "Post", "retry_max_attempts": 1, "config": post}])
    workflow_activate(workflow=workflow)
    try:
        execution_start(workflow=workflow, input={})
    finally:
        server.close()
    events = [r.event for r in caplog.records if r.name == "faos.runs"]
    assert events == ["run.started", "step.claimed", "step.failed", "run.finished"]
    for formatter in (JsonFormatter(), KeyValueFormatter()):
        written = "\n".join(formatter.format(record) for record in caplog.records)
        assert "step.failed" in written and CANARY not in written
    assert CANARY not in caplog.text


def test_the_canary_in_its_basic_form_never_reaches_errors_events_emails_or_last_error(client, admin_user, settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    from tests.fakes import FakeServer

    basic = base64.b64encode(f"{CANARY}:X".encode()).decode()  # Freshdesk's Basic form of the API key
    echo = {"errors": [{"message": f"bad header Authorization: Basic {basic}"}]}
    server = FakeServer()
    server.route("POST", "/api/v2/tickets", status=500, body=echo)
    server.route("GET", "/api/v2/agents/me", status=401, body=echo)
    connection = Connection.objects.create(
        service="freshdesk", credentials={"domain": "acme", "api_key": CANARY, "base_url": server.url}
    )
    step = {"action": "freshdesk.create_ticket", "inputs": {"subject": "Help", "description": "x", "email": "a@b.co"}}
    workflow = workflow_with_steps(
        [{"key": "ticket", "name": "Ticket", "retry_max_attempts": 1, "config": step}], on_failure="notify_owner"
    )
    workflow_activate(workflow=workflow)
    execution = execution_start(workflow=workflow, input={})
    execution.refresh_from_db()
    ok, error = connection_test(connection=connection)
    server.close()
    connection.refresh_from_db()
    run = execution.step_runs.get()
    assert execution.status == "failed" and "HTTP 500" in run.error and not ok and "401" in connection.last_error
    events = list(Event.objects.values_list("data", flat=True))
    emails = [f"{m.subject}{m.body}" for m in mail.outbox]
    assert events and emails  # the failure was announced: the checks below read real text
    outbox = list(OutboxMessage.objects.values_list("payload", "last_error"))  # what waits to be sent, too
    seen = f"{run.output}{run.requests}{run.error}{execution.error}{events}{emails}{connection.last_error}{error}"
    seen += str(outbox)
    assert CANARY not in seen and basic not in seen
    client.force_login(admin_user)
    page = client.get(reverse("admin:integrations_connection_change", args=[connection.pk])).content.decode()
    assert basic not in page and CANARY not in page


def test_the_admin_form_keeps_credentials_when_left_empty_and_requires_fields(client, admin_user):
    client.force_login(admin_user)
    add = reverse("admin:integrations_connection_add")
    missing = client.post(add, {"service": "slack", "name": "main", "credential_values": ""})
    assert "Slack needs: bot_token" in missing.content.decode()
    client.post(add, {"service": "slack", "name": "main", "credential_values": f"bot_token={CANARY}"})
    connection = Connection.objects.get()
    change = reverse("admin:integrations_connection_change", args=[connection.pk])
    client.post(change, {"service": "slack", "name": "renamed", "credential_values": ""})
    connection.refresh_from_db()
    assert connection.name == "renamed" and connection.credentials == {"bot_token": CANARY}


def test_test_connection_calls_the_service_and_records_the_result(client, admin_user, settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    from tests.fakes import FakeServer

    server = FakeServer()
    server.route("POST", "/api/auth.test", body={"ok": True, "team": "Acme", "user": "faos"})
    connection = Connection.objects.create(service="slack", credentials={"bot_token": CANARY, "base_url": server.url})
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:integrations_connection_changelist"),
        {"action": "test_selected", "_selected_action": [connection.pk]},
        follow=True,
    )
    server.close()
    connection.refresh_from_db()
    assert connection.status == "ok" and "OK" in response.content.decode()
    assert server.requests[0].headers["Authorization"] == f"Bearer {CANARY}"


def test_activation_names_a_missing_connection():
    from workflows.services import WorkflowInvalid

    workflow = workflow_with_steps(
        [
            {
                "key": "post",
                "name": "Post",
                "config": {"action": "slack.post_message", "inputs": {"channel": "#x", "text": "hi"}},
            }
        ]
    )
    with pytest.raises(WorkflowInvalid) as exc:
        workflow_activate(workflow=workflow)
    assert (
        "no slack connection" in str(exc.value.problems[0]) and exc.value.problems[0].field == "config.input.connection"
    )


def test_the_integrations_page_lists_every_connector_and_its_status(client, admin_user):
    from integrations.connectors import services

    Connection.objects.create(service="slack", credentials={"bot_token": CANARY}, status="ok")
    client.force_login(admin_user)
    page = client.get(reverse("admin:integrations_connection_services")).content.decode()
    for service in services():
        assert f'data-service="{service.name}"' in page
    assert "slack.post_message" in page and "?service=slack" in page and CANARY not in page
    form = client.get(reverse("admin:integrations_connection_add") + "?service=slack").content.decode()
    assert '<option value="slack" selected>' in form


def test_the_connection_page_tests_stripe_with_one_click_and_offers_sign_in_where_oauth(client, admin_user, settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    from tests.fakes import FakeServer

    server = FakeServer()
    server.route("GET", "/v1/balance", body={"object": "balance", "available": [{"amount": 0, "currency": "usd"}]})
    stripe = Connection.objects.create(service="stripe", credentials={"secret_key": CANARY, "base_url": server.url})
    client.force_login(admin_user)
    page = client.get(reverse("admin:integrations_connection_change", args=[stripe.pk])).content.decode()
    assert "Test connection" in page and "Sign in with" not in page and CANARY not in page
    done = client.post(reverse("admin:integrations_connection_test", args=[stripe.pk]), follow=True)
    server.close()
    stripe.refresh_from_db()
    assert stripe.status == "ok" and [str(m) for m in done.context["messages"]] == ["stripe: default: OK"]
    assert server.requests[0].headers["Authorization"] == f"Bearer {CANARY}"
    assert client.get(reverse("admin:integrations_connection_test", args=[stripe.pk])).status_code == 405
    hubspot = Connection.objects.create(service="hubspot", credentials={"client_id": "c", "client_secret": "s"})
    page = client.get(reverse("admin:integrations_connection_change", args=[hubspot.pk])).content.decode()
    assert "Sign in with HubSpot" in page and "/integrations/oauth/callback/" in page


def test_connect_shows_one_input_per_credential_and_never_renders_a_secret_back(client, admin_user):
    client.force_login(admin_user)
    add = reverse("admin:integrations_connection_add")
    form = client.get(add + "?service=stripe").content.decode()
    assert 'type="password" name="cred_secret_key"' in form and 'name="cred_base_url"' in form
    refused = client.post(add, {"service": "stripe", "name": "default", "cred_base_url": "https://api.stripe.com"})
    assert "Stripe needs: secret_key" in refused.content.decode() and not Connection.objects.exists()
    client.post(add, {"service": "stripe", "name": "default", "cred_secret_key": CANARY, "credential_values": ""})
    connection = Connection.objects.get()
    change = reverse("admin:integrations_connection_change", args=[connection.pk])
    edit = {"service": "stripe", "name": "default", "cred_secret_key": "", "cred_base_url": "http://stripe.test"}
    client.post(change, edit)
    connection.refresh_from_db()
    assert connection.credentials == {"secret_key": CANARY, "base_url": "http://stripe.test"}
    page = client.get(change).content.decode()
    assert CANARY not in page and 'value="http://stripe.test"' in page and "Stored (hidden)" in page
