"""Connectors: one module per service, each registering the service and its actions.

A connector action is an ordinary registered Action named "<service>.<action>" whose `build()` returns
the exact HTTP request the vendor documents; the base class sends it through the SSRF-guarded client,
maps errors for the retry policy, adds the idempotency key and keeps credentials out of every output.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from executions.engine.errors import StepError

from .. import http
from ..actions import Action, ActionContext

# Header names that carry credentials; an Idempotency-Key is not one (test runs show it).
SENSITIVE_HEADER = re.compile(r"auth|token|(?<!idempotency-)key|secret|signature", re.IGNORECASE)
_SERVICES: dict[str, Service] = {}
_LOADED: list[bool] = []


@dataclass(frozen=True)
class OAuth:
    """OAuth2 authorization-code endpoints of a service; client id/secret live in the connection's credentials."""

    authorize_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    authorize_params: tuple[tuple[str, str], ...] = ()  # e.g. Google's access_type=offline for a refresh token
    keep: tuple[str, ...] = ()  # token-response fields to store too, e.g. Salesforce's instance_url
    default_lifetime: int | None = None  # seconds, for providers whose token response has no expires_in


@dataclass(frozen=True)
class Service:
    """What the Integrations page shows for one service, and the credentials it asks for."""

    name: str
    label: str
    category: str
    credential_fields: dict = field(default_factory=dict)  # name -> {"label", "secret", "help", "required"}
    docs_url: str = ""
    test_action: str | None = None  # an action (cheap, read-only) that "Test connection" calls
    oauth: OAuth | None = None  # services whose normal path is OAuth2 (Slack, HubSpot, Salesforce, Google)
    credential_sets: tuple[tuple[str, ...], ...] = ()  # alternatives: one set must be complete (token, or OAuth app)

    def missing_credentials(self, values: dict) -> str | None:
        """What is missing from these credentials, in words, or None when they are enough."""
        if self.credential_sets:
            if any(all(values.get(k) for k in group) for group in self.credential_sets):
                return None
            return ", or ".join(" and ".join(group) for group in self.credential_sets)
        required = [k for k, f in self.credential_fields.items() if f.get("required") and not values.get(k)]
        return ", ".join(required) or None


@dataclass
class Request:
    """One HTTP request, exactly as the vendor documents it."""

    method: str
    url: str
    headers: dict = field(default_factory=dict)
    json: Any = None
    data: Any = None
    params: dict | None = None
    auth: tuple[str, str] | None = None


def register_service(service: Service) -> Service:
    _SERVICES[service.name] = service
    return service


def services() -> list[Service]:
    load()
    return sorted(_SERVICES.values(), key=lambda s: (s.category, s.label))


def get_service(name: str) -> Service | None:
    load()
    return _SERVICES.get(name)


def load() -> None:
    """Import every connector module once (each registers its service and actions)."""
    if _LOADED:
        return
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    _LOADED.append(True)


class ConnectorAction(Action):
    """Base class of a connector action. Subclass in the service's module and decorate with @register.

    Example::

        @register
        class PostMessage(ConnectorAction):
            name = "slack.post_message"
            service = "slack"
            input_schema = {"type": "object", "required": ["channel", "text"], ...}

            def build(self, inputs, creds, ctx):
                return Request("POST", f"{creds.get('base_url', 'https://slack.com')}/api/chat.postMessage",
                               headers={"Authorization": f"Bearer {creds['bot_token']}"},
                               json={"channel": inputs["channel"], "text": inputs["text"]})
    """

    service: str = ""
    side_effect = True
    external = True
    read_only = False  # True for lookups: sent in test runs too

    def build(self, inputs: dict, creds: dict, ctx: ActionContext) -> Request:
        raise NotImplementedError

    def parse(self, result: http.HttpResult, inputs: dict) -> Any:
        """The step's result; by default the response body."""
        return result.body

    def check_body(self, result: http.HttpResult) -> None:
        """Vendors that answer 200 with an error in the body (Slack's ok: false) raise StepError here."""

    def has_side_effect(self, inputs):
        return not self.read_only

    def describe(self, inputs, ctx):
        creds = ctx.credentials(self.service, inputs.get("connection"))
        return summary(self.build(inputs, creds, ctx), self.secrets(creds))

    def secrets(self, creds: dict) -> dict:
        """The credentials to hide: all but the fields the service marks as not secret (base URL, client id…)."""
        service = _SERVICES.get(self.service)
        fields = service.credential_fields if service else {}
        public = set(service.oauth.keep) if service and service.oauth else set()  # e.g. Salesforce's instance_url
        return {k: v for k, v in creds.items() if k not in public and fields.get(k, {}).get("secret", True)}

    def run(self, inputs, ctx):
        creds = ctx.credentials(self.service, inputs.get("connection"))
        request, secrets = self.build(inputs, creds, ctx), self.secrets(creds)
        ctx.sent.append(summary(request, secrets))  # shown on the step run: the exact request, secrets redacted
        try:
            result = http.send(
                request.method,
                request.url,
                policy=policy(),
                headers=request.headers,
                params=request.params,
                json=request.json,
                data=request.data,
                auth=request.auth,
                timeout=ctx.timeout,
            )
            self.check_body(result)
        except StepError as exc:  # check_body's vendor message may echo a credential too
            raise StepError(
                redact(str(exc), secrets), retryable=exc.retryable, retry_after=exc.retry_after, detail=exc.detail
            ) from None
        except http.HttpError as exc:
            message = redact(f"{self.service}: {exc}", secrets)
            raise StepError(
                message, retryable=exc.retryable, retry_after=exc.retry_after, detail={"status": exc.status}
            ) from None
        return redact(self.parse(result, inputs), secrets)


def summary(request: Request, secrets: dict) -> dict:
    """The request as the step run shows it: method, URL, headers and body, credentials redacted."""
    headers = {k: "[redacted]" if SENSITIVE_HEADER.search(k) else v for k, v in request.headers.items()}
    described = {"method": request.method, "url": request.url, "headers": headers, "json": request.json}
    described |= {"data": request.data, "params": request.params}
    return redact(described, secrets)


def policy() -> http.HttpPolicy:
    return http.HttpPolicy(allow_hosts=frozenset(settings.FAOS_HTTP_ALLOW_HOSTS))


def redact(value: Any, creds: dict) -> Any:
    """Replace every credential value (and its Basic/Bearer forms) wherever it appears."""
    # Longest first, so a secret that contains another (a webhook URL holding its base URL) goes whole.
    secrets = sorted({str(v) for v in creds.values() if isinstance(v, str | int) and len(str(v)) >= 6}, key=len)[::-1]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, dict):
        return {k: redact(v, creds) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, creds) for v in value]
    return value
