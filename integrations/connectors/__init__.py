"""Connectors: one module per service, each registering the service and its actions.

A connector action is an ordinary registered Action named "<service>.<action>" whose `build()` returns
the exact HTTP request the vendor documents; the base class sends it through the SSRF-guarded client,
maps errors for the retry policy, adds the idempotency key and keeps credentials out of every output.
Most connectors subclass RestAction, whose hooks (base URL, headers, path, JSON/form body, query) assemble it.
"""

from __future__ import annotations

import base64
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.conf import settings

from executions.engine.errors import StepError

from .. import http
from ..actions import Action, ActionContext
from ..redaction import redact, redact_headers

_SERVICES: dict[str, Service] = {}
_LOADED: list[bool] = []
CONNECTION = {"type": "string", "title": "Connection"}
CONNECTION_ONLY = {"type": "object", "properties": {"connection": CONNECTION}}  # check actions take nothing else


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
            result = send(request, ctx.timeout)
            self.check_body(result)
        except StepError as exc:  # check_body's vendor message may echo a credential too
            raise StepError(
                redact(str(exc), secrets), retryable=exc.retryable, retry_after=exc.retry_after, detail=exc.detail
            ) from None
        except http.HttpError as exc:
            raise failure(exc, redact(f"{self.service}: {exc}", secrets)) from None
        return redact(self.parse(result, inputs), secrets)

    def credential(self, creds: dict, *keys: str, what: str, hint: str = "") -> str:
        """The first of these credentials that is set, else a StepError: "<service>: the connection has no <what>"."""
        for key in keys:
            if creds.get(key):
                return creds[key]
        raise StepError(f"{self.service}: the connection has no {what}" + (f"; {hint}" if hint else ""))


class RestAction(ConnectorAction):
    """A connector action whose request is a method, base URL + path, headers and a JSON, form or query body.

    Example::

        class AcmeAction(RestAction):
            service = "acme"
            default_base_url = "https://api.acme.com"  # the connection's base_url wins
            json_content_type = True

            def headers(self, creds, ctx):
                return {"Authorization": f"Bearer {self.credential(creds, 'api_key', what='API key')}"}

        @register
        class CreateNote(AcmeAction):
            name = "acme.create_note"
            endpoint = "/v1/notes"

            def payload(self, inputs):
                return {"text": inputs["text"]}
    """

    http_method = "POST"
    default_base_url = ""
    endpoint = ""  # the path when it does not depend on the inputs; otherwise override path()
    json_content_type = False  # True: a JSON body also names its Content-Type in the request (and its recording)

    def build(self, inputs, creds, ctx):
        # The credentials are checked first, then the host, then the inputs: an error names the first problem.
        headers = self.headers(creds, ctx)
        url = f"{self.base_url(creds, ctx)}{self.path(inputs)}"
        body = self.payload(inputs)
        if body is not None and self.json_content_type:
            headers["Content-Type"] = "application/json"
        return Request(
            self.http_method, url, headers=headers, json=body, data=self.form(inputs), params=self.params(inputs)
        )

    def base_url(self, creds: dict, ctx: ActionContext) -> str:
        """The API root the path follows: the connection's base_url, else the service's default."""
        return (creds.get("base_url") or self.default_base_url).rstrip("/")

    def headers(self, creds: dict, ctx: ActionContext) -> dict:
        """The request's headers, authorization included; a fresh dict every call."""
        return {}

    def path(self, inputs: dict) -> str:
        """What follows base_url: the action's endpoint, unless it overrides this."""
        if not self.endpoint:
            raise NotImplementedError
        return self.endpoint

    def payload(self, inputs: dict) -> Any:
        """The JSON body, or None for none."""
        return None

    def form(self, inputs: dict) -> dict | None:
        """The form-encoded body, or None for none."""
        return None

    def params(self, inputs: dict) -> dict | None:
        """The query parameters, or None for none."""
        return None

    def tenant_url(self, creds: dict, field: str, host: str) -> str:
        """The base_url override, else https://{name}{host} from the connection's `field` (acme for acme{host})."""
        if creds.get("base_url"):
            return creds["base_url"].rstrip("/")
        name = str(creds.get(field) or "").strip().removeprefix("https://").removeprefix("http://")
        name = name.split(host)[0].strip("/")
        # Anything that could move the host elsewhere would send the credentials there too.
        if not name or any(c in name for c in "/?#@:\\ "):
            raise StepError(f"{self.service}: set the connection's {field} (acme for https://acme{host})")
        return f"https://{name}{host}"


def summary(request: Request, secrets: dict) -> dict:
    """The request as the step run shows it: method, URL, headers and body, credentials redacted."""
    headers = redact_headers(request.headers)
    described = {"method": request.method, "url": request.url, "headers": headers, "json": request.json}
    described |= {"data": request.data, "params": request.params}
    return redact(described, secrets)


def policy() -> http.HttpPolicy:
    return http.HttpPolicy(allow_hosts=frozenset(settings.FAOS_HTTP_ALLOW_HOSTS))


def send(request: Request, timeout: float) -> http.HttpResult:
    """Send a Request through the SSRF-guarded client; failures raise http.HttpError."""
    return http.send(
        request.method,
        request.url,
        policy=policy(),
        headers=request.headers,
        params=request.params,
        json=request.json,
        data=request.data,
        auth=request.auth,
        timeout=timeout,
    )


def failure(exc: http.HttpError, message: str) -> StepError:
    """The StepError for a failed call: the message (credentials already redacted) and the retry hints."""
    return StepError(message, retryable=exc.retryable, retry_after=exc.retry_after, detail={"status": exc.status})


def base_url_field(help_text: str) -> dict:
    """The optional "API base URL" credential field (tests, proxies, regional hosts)."""
    return {"label": "API base URL", "secret": False, "required": False, "help": help_text}


def as_dict(body: Any) -> dict:
    """The body when it is a JSON object, else {} (error pages, 204 No Content)."""
    return body if isinstance(body, dict) else {}


def segment(value: Any) -> str:
    """A value as one URL path segment: / ? # and the like are escaped, so an id cannot reach another path."""
    return quote(str(value), safe="")


def basic(user: str, password: str) -> str:
    """The base64 of user:password that an HTTP Basic Authorization header carries."""
    return base64.b64encode(f"{user}:{password}".encode()).decode()
