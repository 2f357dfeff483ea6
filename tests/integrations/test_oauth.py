"""OAuth2 for connections: authorize → callback → tokens stored encrypted → refreshed on expiry."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from integrations.models import Connection
from integrations.services import connection_credentials
from tests.fakes import FakeServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    server = FakeServer()
    yield server
    server.close()


def test_sign_in_stores_tokens_and_refreshes_them_when_they_expire(client, admin_user, provider, settings):
    connection = Connection.objects.create(
        service="slack", credentials={"client_id": "cid", "client_secret": "csecret", "oauth_base_url": provider.url}
    )
    client.force_login(admin_user)
    start = client.get(reverse("admin:integrations_connection_oauth", args=[connection.pk]))
    target = urlsplit(start.url)
    query = parse_qs(target.query)
    assert target.path == "/oauth/v2/authorize" and query["client_id"] == ["cid"]
    assert query["redirect_uri"] == [settings.SITE_URL + "/integrations/oauth/callback/"]
    assert query["scope"] == ["chat:write,channels:manage,groups:write"]

    provider.route(
        "POST",
        "/api/oauth.v2.access",
        body={"ok": True, "access_token": "xoxb-first", "refresh_token": "r-1", "expires_in": 3600},
    )
    done = client.get("/integrations/oauth/callback/", {"code": "the-code", "state": query["state"][0]})
    assert done.status_code == 302
    exchange = parse_qs(provider.requests[0].body.decode())
    assert exchange["grant_type"] == ["authorization_code"] and exchange["code"] == ["the-code"]
    assert exchange["client_secret"] == ["csecret"]
    connection.refresh_from_db()
    assert connection.credentials["access_token"] == "xoxb-first" and connection.status == "ok"

    creds = {**connection.credentials, "expires_at": int(time.time()) - 5}
    Connection.objects.filter(pk=connection.pk).update(credentials=creds)
    provider.route("POST", "/api/oauth.v2.access", body={"ok": True, "access_token": "xoxb-second", "expires_in": 3600})
    fresh = connection_credentials(service="slack", name=None, test_mode=False)
    refresh = parse_qs(provider.requests[1].body.decode())
    assert refresh["grant_type"] == ["refresh_token"] and refresh["refresh_token"] == ["r-1"]
    assert fresh["access_token"] == "xoxb-second" and fresh["refresh_token"] == "r-1"


def test_a_forged_or_stale_state_is_refused(client, admin_user, provider):
    client.force_login(admin_user)
    response = client.get("/integrations/oauth/callback/", {"code": "x", "state": "forged"}, follow=True)
    assert "invalid or expired" in response.content.decode() and provider.requests == []


def test_the_callback_needs_a_staff_login(client, provider):
    assert client.get("/integrations/oauth/callback/", {"code": "x", "state": "s"}).status_code == 302
    assert provider.requests == []


def test_google_asks_for_offline_access_so_it_gets_a_refresh_token(client, admin_user, provider):
    connection = Connection.objects.create(
        service="google_workspace",
        credentials={"client_id": "cid", "client_secret": "csecret", "oauth_base_url": provider.url},
    )
    client.force_login(admin_user)
    query = parse_qs(
        urlsplit(client.get(reverse("admin:integrations_connection_oauth", args=[connection.pk])).url).query
    )
    assert query["access_type"] == ["offline"] and query["prompt"] == ["consent"]


def test_salesforce_keeps_the_instance_url_and_refreshes_without_expires_in(client, admin_user, provider):
    connection = Connection.objects.create(
        service="salesforce",
        credentials={"client_id": "cid", "client_secret": "csecret", "oauth_base_url": provider.url},
    )
    client.force_login(admin_user)
    start = client.get(reverse("admin:integrations_connection_oauth", args=[connection.pk]))
    state = parse_qs(urlsplit(start.url).query)["state"][0]
    tokens = {"access_token": "00D-first", "refresh_token": "r-1", "instance_url": "https://acme.my.salesforce.com"}
    provider.route("POST", "/services/oauth2/token", body=tokens)
    client.get("/integrations/oauth/callback/", {"code": "c", "state": state})
    connection.refresh_from_db()
    creds = connection.credentials
    assert creds["instance_url"] == "https://acme.my.salesforce.com"
    assert 880 <= creds["expires_at"] - time.time() <= 900  # refreshed after Salesforce's shortest session


SECRET = "csecret-CANARY-oauth-77"


def test_oauth_error_bodies_are_summarised_and_never_show_secrets(client, admin_user, provider):
    """A token endpoint that echoes the client secret, the code or the refresh token: only its error code shows."""
    from integrations.services import connection_test

    creds = {"client_id": "cid", "client_secret": SECRET, "oauth_base_url": provider.url}
    creds |= {"access_token": "xoxb-old", "refresh_token": "refresh-CANARY-88", "expires_at": int(time.time()) - 5}
    connection = Connection.objects.create(service="slack", credentials=creds)
    echo = f"client_secret={SECRET}&refresh_token=refresh-CANARY-88&code=the-CANARY-code"
    body = {"error": "invalid_client", "error_description": f"bad client ({SECRET})", "request": echo}
    body["debug"] = "X" * 900
    provider.route("POST", "/api/oauth.v2.access", status=401, body=body)
    ok, error = connection_test(connection=connection)
    connection.refresh_from_db()
    assert not ok and "HTTP 401: invalid_client" in connection.last_error and connection.last_error == error
    assert "CANARY" not in connection.last_error and "XXXX" not in connection.last_error

    state = parse_qs(urlsplit(client_start(client, admin_user, connection).url).query)["state"][0]
    provider.route("POST", "/api/oauth.v2.access", status=400, body={"error": "invalid_code", "echo": echo})
    page = client.get("/integrations/oauth/callback/", {"code": "the-CANARY-code", "state": state}, follow=True)
    messages = [str(m) for m in page.context["messages"]]
    assert any("invalid_code" in m for m in messages) and "CANARY" not in page.content.decode()


def client_start(client, admin_user, connection):
    client.force_login(admin_user)
    return client.get(reverse("admin:integrations_connection_oauth", args=[connection.pk]))
