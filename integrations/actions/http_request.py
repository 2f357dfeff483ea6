"""`http_request`: call any HTTP API; private and loopback targets are refused unless allow-listed."""

from django.conf import settings

from executions.engine.errors import StepError
from integrations import http
from integrations.redaction import header_secrets, redact, redact_headers, url_secrets

from . import Action, register

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


@register
class HttpRequestAction(Action):
    name = "http_request"
    example = {
        "method": "POST",
        "url": "https://api.example.com/customers",
        "json": {"email": "{{trigger.customer.email}}"},
        "ok_statuses": [200, 201],
    }
    label = "HTTP request"
    side_effect = True
    external = True
    input_schema = {
        "type": "object",
        "required": ["url"],
        "properties": {
            "method": {"enum": METHODS, "default": "GET", "description": "The HTTP method."},
            "url": {"type": "string", "pattern": "^https?://", "description": "http:// or https:// address."},
            "headers": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number"]},
                "description": "Header name → value (credentials in them are hidden from the run's record).",
            },
            "query": {"type": "object", "description": "Query parameters: name → value."},
            "json": {"description": "A JSON body (not with body)."},
            "body": {"type": "string", "description": "A text body (not with json)."},
            "ok_statuses": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Statuses that count as success; empty: any 2xx, and 4xx/5xx fail the step.",
            },
        },
        "not": {"required": ["json", "body"]},
    }

    def has_side_effect(self, inputs):
        return inputs.get("method", "GET") not in ("GET", "HEAD")  # test runs may read, never write

    def describe(self, inputs, ctx):
        return _recorded(self._request(inputs, ctx), _secrets(inputs))

    def recorded_inputs(self, inputs):
        return _recorded(inputs, _secrets(inputs))

    def _request(self, inputs, ctx) -> dict:
        """The request as sent, credentials included."""
        method = inputs.get("method", "GET")
        headers = {str(k): str(v) for k, v in (inputs.get("headers") or {}).items()}
        if method != "GET" and not any(k.lower() == "idempotency-key" for k in headers):
            headers["Idempotency-Key"] = ctx.idempotency_key
        request = {"method": method, "url": inputs["url"], "headers": headers, "query": inputs.get("query") or {}}
        if "json" in inputs:
            request["json"] = inputs["json"]
        if "body" in inputs:
            request["body"] = inputs["body"]
        return request

    def run(self, inputs, ctx):
        request, secrets = self._request(inputs, ctx), _secrets(inputs)
        ctx.sent.append(_recorded(request, secrets))
        policy = http.HttpPolicy(allow_hosts=frozenset(settings.FAOS_HTTP_ALLOW_HOSTS))
        try:
            response = http.send(
                request["method"],
                request["url"],
                policy=policy,
                headers=request["headers"],
                params=request["query"] or None,
                json=request.get("json"),
                data=request.get("body"),
                timeout=ctx.timeout,
                raise_for_status=not inputs.get("ok_statuses"),
            )
        except http.HttpError as exc:  # the server may echo the Authorization header back in its error body
            raise StepError(
                redact(str(exc), secrets),
                retryable=exc.retryable,
                retry_after=exc.retry_after,
                detail={"status": exc.status},
            ) from None
        if inputs.get("ok_statuses") and response.status not in inputs["ok_statuses"]:
            raise StepError(
                f"HTTP {response.status} is not one of {inputs['ok_statuses']}", retryable=response.status >= 500
            )
        result = {"status": response.status, "headers": response.headers, "body": response.body}
        return redact({**result, "elapsed_ms": response.elapsed_ms}, secrets)


def _secrets(inputs: dict) -> dict:
    """Credentials typed into the step: Authorization, X-Api-Key… headers, a URL password, token query parameters."""
    return header_secrets(inputs.get("headers")) | url_secrets(inputs.get("url", ""), inputs.get("query"))


def _recorded(request: dict, secrets: dict) -> dict:
    """The request (or the step's inputs) as the step run keeps it: credential headers and values redacted."""
    if isinstance(request.get("headers"), dict):
        request = {**request, "headers": redact_headers(request["headers"])}
    return redact(request, secrets)
