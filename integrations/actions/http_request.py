"""`http_request`: call any HTTP API; private and loopback targets are refused unless allow-listed."""

from django.conf import settings

from executions.engine.errors import StepError
from integrations import http

from . import Action, register

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


@register
class HttpRequestAction(Action):
    name = "http_request"
    label = "HTTP request"
    side_effect = True
    external = True
    input_schema = {
        "type": "object",
        "required": ["url"],
        "properties": {
            "method": {"enum": METHODS},
            "url": {"type": "string", "pattern": "^https?://"},
            "headers": {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
            "query": {"type": "object"},
            "json": {},
            "body": {"type": "string"},
            "ok_statuses": {"type": "array", "items": {"type": "integer"}},
        },
        "not": {"required": ["json", "body"]},
    }

    def has_side_effect(self, inputs):
        return inputs.get("method", "GET") not in ("GET", "HEAD")  # test runs may read, never write

    def describe(self, inputs, ctx):
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
        request = self.describe(inputs, ctx)
        ctx.sent.append(request)
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
        except http.HttpError as exc:
            raise StepError(
                str(exc), retryable=exc.retryable, retry_after=exc.retry_after, detail={"status": exc.status}
            ) from exc
        if inputs.get("ok_statuses") and response.status not in inputs["ok_statuses"]:
            raise StepError(
                f"HTTP {response.status} is not one of {inputs['ok_statuses']}", retryable=response.status >= 500
            )
        return {
            "status": response.status,
            "headers": response.headers,
            "body": response.body,
            "elapsed_ms": response.elapsed_ms,
        }
