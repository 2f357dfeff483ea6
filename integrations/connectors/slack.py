"""Slack (Web API): post a message, invite to a channel. Auth: a bot token (xoxb-…) as a Bearer header."""

from executions.engine.errors import StepError

from ..actions import register
from . import OAuth, RestAction, Service, as_dict, base_url_field, register_service

SLACK = register_service(
    Service(
        name="slack",
        label="Slack",
        category="Communication",
        docs_url="https://api.slack.com/web",
        credential_fields={
            "bot_token": {"label": "Bot token (xoxb-…), or use Sign in with Slack", "secret": True},
            "client_id": {"label": "OAuth client ID (for Sign in with Slack)", "secret": False},
            "client_secret": {"label": "OAuth client secret", "secret": True},
            "oauth_base_url": {"label": "OAuth base URL (tests, proxies)", "secret": False},
            "signing_secret": {
                "label": "Signing secret (Basic Information → App Credentials), for Approve / Reject buttons",
                "secret": True,
            },
            "base_url": base_url_field("Leave empty for https://slack.com"),
        },
        test_action="slack.auth_test",
        credential_sets=(("bot_token",), ("client_id", "client_secret")),
        oauth=OAuth(
            authorize_url="https://slack.com/oauth/v2/authorize",
            token_url="https://slack.com/api/oauth.v2.access",
            scopes=("chat:write", "channels:manage", "groups:write"),
            scope_separator=",",
        ),
    )
)
# Slack's retryable errors come back as HTTP 200 with ok: false; these deserve another attempt.
RETRYABLE = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}


class SlackAction(RestAction):
    service = "slack"
    category = "Communication"
    default_base_url = "https://slack.com"
    method = ""  # the Web API method, e.g. chat.postMessage

    def headers(self, creds, ctx):
        # A pasted bot token, or the one Sign in with Slack stored.
        hint = "paste one or use Sign in with Slack"
        token = self.credential(creds, "bot_token", "access_token", what="bot token", hint=hint)
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}

    def path(self, inputs):
        return f"/api/{self.method}"

    def payload(self, inputs: dict) -> dict:
        """The method's arguments; an empty JSON object for methods that take none (auth.test)."""
        return {}

    def check_body(self, result):
        body = as_dict(result.body)
        if not body.get("ok", False):
            error = body.get("error", "unknown_error")
            raise StepError(f"slack: {self.method} failed: {error}", retryable=error in RETRYABLE)


@register
class PostMessage(SlackAction):
    """chat.postMessage: text (and optional Block Kit blocks) to a channel, optionally in a thread."""

    name = "slack.post_message"
    example = {"channel": "#support", "text": "New critical ticket: {{trigger.subject}}"}
    label = "Slack: post a message"
    method = "chat.postMessage"
    input_schema = {
        "type": "object",
        "required": ["channel", "text"],
        "properties": {
            "connection": {"type": "string"},
            "channel": {"type": "string", "minLength": 1},
            "text": {"type": "string", "minLength": 1},
            "blocks": {"type": "array"},
            "thread_ts": {"type": "string"},
        },
    }

    def payload(self, inputs):
        keys = ("channel", "text", "blocks", "thread_ts")
        return {k: inputs[k] for k in keys if inputs.get(k) not in (None, "")}

    def parse(self, result, inputs):
        return {"channel": result.body.get("channel"), "ts": result.body.get("ts")}


@register
class InviteToChannel(SlackAction):
    """conversations.invite: add users (IDs) to a channel, e.g. a new hire to #team."""

    name = "slack.invite_to_channel"
    example = {"channel": "C0123456789", "users": ["{{trigger.slack_user_id}}"]}
    label = "Slack: invite users to a channel"
    method = "conversations.invite"
    input_schema = {
        "type": "object",
        "required": ["channel", "users"],
        "properties": {
            "connection": {"type": "string"},
            "channel": {"type": "string", "minLength": 1},
            "users": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        },
    }

    def payload(self, inputs):
        users = inputs["users"] if isinstance(inputs["users"], str) else ",".join(inputs["users"])
        return {"channel": inputs["channel"], "users": users}

    def parse(self, result, inputs):
        return {"channel": (result.body.get("channel") or {}).get("id")}


@register
class AuthTest(SlackAction):
    """auth.test: checks the token (used by "Test connection")."""

    name = "slack.auth_test"
    example = {}
    label = "Slack: check the token"
    method = "auth.test"
    read_only = True
    input_schema = {"type": "object", "properties": {"connection": {"type": "string"}}}

    def parse(self, result, inputs):
        return {"team": result.body.get("team"), "user": result.body.get("user")}
