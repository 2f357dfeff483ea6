"""The webhook endpoint: authenticate the raw body, then start one run per delivery and answer 202."""

import json

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from executions.api.serializers import ExecutionSerializer
from executions.engine.errors import ExpressionError
from executions.engine.expressions import evaluate_condition
from executions.services import execution_start
from integrations.webhooks import SignatureError, verify

from ..models import Trigger, Workflow

JSON_TYPES = ("application/json", "application/vnd.api+json", "text/plain")
FORWARDED_HEADERS = ("content-type", "user-agent", "x-github-event", "x-shopify-topic", "x-request-id")


def error(message: str, code: int, field: str = "detail") -> Response:
    return Response({field: message} if field == "detail" else {field: [message]}, status=code)


class WebhookView(APIView):
    """POST /api/hooks/<token>/ — the token is the secret URL; the trigger's auth scheme is checked too."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(request=dict, responses={202: ExecutionSerializer})
    def post(self, request, token: str):
        trigger = Trigger.objects.select_related("workflow__active_version").filter(token=token, kind="webhook").first()
        if trigger is None:
            return error("No webhook at this address.", status.HTTP_404_NOT_FOUND)
        if not trigger.is_enabled or trigger.workflow.status != Workflow.Status.ACTIVE:
            return error(
                f"Workflow '{trigger.workflow.name}' is not accepting webhooks (inactive).", status.HTTP_409_CONFLICT
            )
        body = request.body
        problem = self._check_request(request, body, trigger)
        if problem:
            return problem
        try:
            payload = json.loads(body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return error(f"Malformed JSON: {exc}", status.HTTP_400_BAD_REQUEST, "body")
        if not isinstance(payload, dict):
            return error("The body must be a JSON object.", status.HTTP_400_BAD_REQUEST, "body")
        return self._start(request, trigger, payload)

    def _check_request(self, request, body: bytes, trigger: Trigger) -> Response | None:
        if len(body) > settings.FAOS_WEBHOOK_MAX_BYTES:
            return error(
                f"Body larger than {settings.FAOS_WEBHOOK_MAX_BYTES} bytes.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            )
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type not in JSON_TYPES and not content_type.endswith("+json"):
            return error(
                f"Send JSON (Content-Type: application/json), not '{content_type}'.",
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            verify(
                trigger.config.get("auth", "token"),
                body=body,
                headers=request.headers,
                secrets=trigger.secrets or [],
                header=trigger.config.get("header"),
                method=request.method,
                url=request.build_absolute_uri(),
            )
        except SignatureError as exc:
            return error(str(exc), exc.status)
        if not self._within_rate(trigger):
            return error("Too many deliveries; slow down.", status.HTTP_429_TOO_MANY_REQUESTS)
        return None

    def _within_rate(self, trigger: Trigger) -> bool:
        limit = trigger.config.get("rate_per_minute") or settings.FAOS_WEBHOOK_RATE_PER_MINUTE
        key = f"faos:hook:{trigger.pk}:{timezone.now():%Y%m%d%H%M}"
        cache.add(key, 0, 120)
        return cache.incr(key) <= limit

    def _start(self, request, trigger: Trigger, payload: dict) -> Response:
        condition = trigger.config.get("filter")
        try:
            if condition and not evaluate_condition(condition, {"trigger": {**payload, "payload": payload}}):
                return Response({"started": False, "reason": "filtered out by the trigger's filter"})
        except ExpressionError as exc:
            return Response({"started": False, "reason": str(exc)})
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() in FORWARDED_HEADERS}
        try:
            execution = execution_start(
                workflow=trigger.workflow,
                input=payload,
                trigger_kind="webhook",
                source=trigger.name or "webhook",
                idempotency_key=_delivery_key(request, trigger, payload),
                trigger_meta={"headers": headers, "trigger_id": trigger.pk},
            )
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_409_CONFLICT)
        data = ExecutionSerializer(execution, context={"request": request}).data
        return Response(
            {
                "started": True,
                "execution_id": execution.pk,
                "status": execution.status,
                "status_url": data["status_url"],
            },
            status=status.HTTP_202_ACCEPTED,
        )


def _delivery_key(request, trigger: Trigger, payload: dict) -> str | None:
    """Idempotency-Key header, else the provider's event id (Stripe's evt_…, Shopify's webhook id)."""
    key = request.headers.get("Idempotency-Key") or request.headers.get("X-Shopify-Webhook-Id")
    if not key and trigger.config.get("auth") == "stripe" and isinstance(payload.get("id"), str):
        key = payload["id"]
    return f"webhook:{key}"[:200] if key else None
