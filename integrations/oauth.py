"""OAuth2 authorization-code flow for connections: authorize, callback, token storage and refresh."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from django.core import signing
from django.db import transaction

from executions.engine.errors import StepError

from . import http
from .connectors import get_service, policy
from .models import Connection
from .redaction import redact

STATE_SALT = "faos.oauth.state"
STATE_MAX_AGE = 600  # seconds the user has to complete the consent screen
REFRESH_MARGIN = 60  # refresh this long before the access token expires
ERROR_CHARS = 200  # of a provider's error description in a message


def authorize_url(*, connection: Connection, redirect_uri: str, user=None) -> str:
    """The provider's consent URL, with a signed state naming the connection and the user (CSRF protection)."""
    oauth = _oauth(connection)
    state = signing.dumps({"connection": connection.pk, "user": user.pk if user else None}, salt=STATE_SALT)
    query = {
        "response_type": "code",
        "client_id": connection.credentials["client_id"],
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if oauth.scopes:
        query["scope"] = oauth.scope_separator.join(oauth.scopes)
    query.update(oauth.authorize_params)
    return f"{_base(connection, oauth.authorize_url)}?{urlencode(query)}"


def connection_from_state(state: str, user=None) -> Connection:
    """The connection a signed state names; it must come back to the user who started the sign-in."""
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.BadSignature as exc:
        raise ValueError("The sign-in link is invalid or expired; start again from the connection.") from exc
    if user is not None and data.get("user") != user.pk:
        raise ValueError("This sign-in was started by someone else; start again from the connection.")
    return Connection.objects.get(pk=data["connection"])


@transaction.atomic
def oauth_complete(*, connection: Connection, code: str, redirect_uri: str) -> Connection:
    """Exchange the authorization code for tokens and store them (encrypted) on the connection."""
    tokens = _token_request(
        connection, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    )
    return _store(connection, tokens)


def fresh_credentials(connection: Connection) -> dict:
    """Credentials with a valid access token, refreshing it first when it is about to expire."""
    creds = connection.credentials
    if get_service(connection.service) is None or get_service(connection.service).oauth is None:
        return creds
    if creds.get("expires_at") and creds["expires_at"] - REFRESH_MARGIN < time.time() and creds.get("refresh_token"):
        with transaction.atomic():
            locked = Connection.objects.select_for_update().get(pk=connection.pk)  # one refresh at a time
            if locked.credentials.get("expires_at", 0) - REFRESH_MARGIN < time.time():
                tokens = _token_request(
                    locked, {"grant_type": "refresh_token", "refresh_token": locked.credentials["refresh_token"]}
                )
                locked = _store(locked, tokens)
            return locked.credentials
    return creds


def _token_request(connection: Connection, form: dict) -> dict:
    oauth = _oauth(connection)
    creds = connection.credentials
    form = {**form, "client_id": creds["client_id"], "client_secret": creds["client_secret"]}
    try:
        result = http.send(
            "POST",
            _base(connection, oauth.token_url),
            policy=policy(),
            data=form,
            headers={"Accept": "application/json"},
            timeout=15,
        )
    except http.HttpError as exc:
        # The provider's error body may quote the client secret, the code or a token: say its error code only.
        what = f"HTTP {exc.status}: {_refusal(_json(exc.response_body))}" if exc.status else str(exc)
        message = f"{connection.service}: token request failed: {what}"
        raise StepError(redact(message, _secrets(connection, form)), retryable=exc.retryable) from None
    body = result.body if isinstance(result.body, dict) else {}
    if not body.get("access_token"):
        message = f"{connection.service}: no access token in the answer ({_refusal(body)})"
        raise StepError(redact(message, _secrets(connection, form)))
    return body


def _json(text: str | None):
    try:
        return json.loads(text or "")
    except ValueError:
        return None


def _refusal(body) -> str:
    """An OAuth error answer in words: its `error` and a short `error_description`, never the whole body."""
    if not isinstance(body, dict):
        return "unknown error"
    words = " ".join(": ".join(str(body[k]) for k in ("error", "error_description") if body.get(k)).split())
    return (words[:ERROR_CHARS] + ("…" if len(words) > ERROR_CHARS else "")) or "unknown error"


def _secrets(connection: Connection, form: dict) -> dict:
    """What a token request's error must not show: the secret credentials, the code and the tokens."""
    service = get_service(connection.service)
    public = {"client_id", "grant_type", "redirect_uri", "expires_at", *(service.oauth.keep if service.oauth else ())}
    public |= {k for k, f in service.credential_fields.items() if not f.get("secret", True)}
    return {k: v for k, v in {**connection.credentials, **form}.items() if k not in public}


def _store(connection: Connection, tokens: dict) -> Connection:
    oauth = _oauth(connection)
    creds = {**connection.credentials, "access_token": tokens["access_token"]}
    creds |= {key: tokens[key] for key in ("refresh_token", *oauth.keep) if tokens.get(key)}
    lifetime = tokens.get("expires_in") or oauth.default_lifetime
    if lifetime:
        creds["expires_at"] = int(time.time()) + int(lifetime)
    connection.credentials = creds
    connection.status = Connection.Status.OK
    connection.save(update_fields=["credentials", "status", "updated_at"])
    return connection


def _oauth(connection: Connection):
    service = get_service(connection.service)
    if service is None or service.oauth is None:
        raise ValueError(f"{connection.service} does not use OAuth")
    if not connection.credentials.get("client_id") or not connection.credentials.get("client_secret"):
        raise ValueError("Set client_id and client_secret on the connection first.")
    return service.oauth


def _base(connection: Connection, url: str) -> str:
    """Tests and self-hosted providers point the OAuth endpoints elsewhere with an oauth_base_url credential."""
    base = connection.credentials.get("oauth_base_url")
    if not base:
        return url
    from urllib.parse import urlsplit

    return base.rstrip("/") + urlsplit(url).path
