"""Calls to Slack for decisions: views.open right away (a trigger_id lasts three seconds) and the answers to a
press's response_url, which are outbox rows delivered (and retried) after the deciding transaction commits."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from integrations.connectors import Request, send
from integrations.http import HttpError
from integrations.models import Connection
from integrations.oauth import fresh_credentials

from .runtime import outbox

logger = logging.getLogger(__name__)
SLACK_HOSTS = frozenset({"hooks.slack.com"})  # where Slack's response_urls point
VIEWS_OPEN_TIMEOUT = 2.5  # seconds: Slack gives the app three to answer a press


def response_url_allowed(url: str, connection: Connection | None) -> bool:
    """Only Slack's own hooks host (or the connection's base URL host, for proxies and tests) is answered."""
    parts = urlsplit(url)
    base = (connection.credentials.get("base_url") or "") if connection else ""
    if base and parts.hostname and parts.hostname == urlsplit(base).hostname:
        return True
    return parts.scheme == "https" and parts.hostname in SLACK_HOSTS


def _api_url(connection: Connection, method: str) -> str:
    return f"{(connection.credentials.get('base_url') or 'https://slack.com').rstrip('/')}/api/{method}"


def open_view(connection: Connection, *, trigger_id: str, view: dict) -> bool:
    """Open a modal for the presser (views.open); False when Slack refused or could not be reached."""
    creds = fresh_credentials(connection)
    token = creds.get("bot_token") or creds.get("access_token")
    if not token or not trigger_id:
        return False
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}
    body = {"trigger_id": trigger_id, "view": view}
    request = Request("POST", _api_url(connection, "views.open"), headers=headers, json=body)
    try:
        result = send(request, VIEWS_OPEN_TIMEOUT)
    except HttpError as exc:
        logger.warning("slack: views.open failed (HTTP %s)", exc.status or "error")
        return False
    body = result.body if isinstance(result.body, dict) else {}
    if not body.get("ok"):
        logger.warning("slack: views.open refused: %s", body.get("error", "unknown_error"))
        return False
    return True


@outbox.sender(outbox.SLACK_RESPOND)
def _send_response(*, url: str, message: dict, connection_id: int | None = None) -> None:
    """POST the answer to the press's response_url; an expired URL (4xx) is dropped, anything else retried."""
    connection = Connection.objects.filter(pk=connection_id).first()
    if not response_url_allowed(url, connection):
        logger.warning("slack: an answer to a response_url no Slack connection vouches for is dropped")
        return
    try:
        send(Request("POST", url, headers={"Content-Type": "application/json"}, json=message), 10)
    except HttpError as exc:
        if exc.status and 400 <= exc.status < 500 and exc.status != 429:
            logger.warning("slack: response_url answered %s; the update is dropped", exc.status)
            return
        # the URL itself is a short-lived credential: the error the outbox keeps must not quote it
        raise RuntimeError(f"Slack's response_url answered {exc.status or 'nothing'}") from None
