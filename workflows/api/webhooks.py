"""The webhook endpoint: authenticate the raw body, then start one run per delivery and answer 202."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from executions.engine.errors import ExpressionError
from executions.engine.expressions import evaluate_condition
from executions.services import execution_start
from faos.cache import count_in_window
from faos.json_input import JSONInputError, json_parse
from faos.schema import FIELD_ERRORS, ErrorDetail
from faos.throttling import SIGNATURE_FAILURES, FailureThrottle, throttled_response
from integrations.webhooks import SignatureError, delivery_id, verify
from ops.models import WEBHOOK_DELIVERIES, counter_add

from ..models import Trigger, Workflow
from ..querysets import webhook_trigger

JSON_TYPES = ("application/json", "application/vnd.api+json", "text/plain")
FORWARDED_HEADERS = ("content-type", "user-agent", "x-github-event", "x-shopify-topic", "x-request-id")


def error(message: str, code: int, field: str = "detail") -> Response:
    return Response({field: message} if field == "detail" else {field: [message]}, status=code)


WEBHOOK_ANSWERS = {
    202: inline_serializer(
        "WebhookStarted",
        {
            "started": serializers.BooleanField(),
            "execution_id": serializers.IntegerField(),
            "status": serializers.CharField(),
            "status_url": serializers.CharField(),
        },
    ),
    200: inline_serializer(
        "WebhookSkipped", {"started": serializers.BooleanField(), "reason": serializers.CharField()}
    ),
    400: FIELD_ERRORS,
    **{code: ErrorDetail for code in (401, 403, 404, 413, 415, 429)},
    409: FIELD_ERRORS,  # inactive workflow ({"detail"}), or a run that cannot start ({"field": [...]})
}


class WebhookView(APIView):
    """POST /api/hooks/<token>/ — the token is the secret URL; the trigger's auth scheme is checked too.

    Order: find the trigger, authenticate, and only then say anything about its workflow.
    """

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()  # senders are held by the failure throttle and each hook's own rate instead

    def finalize_response(self, request, response, *args, **kwargs):
        """Count every delivery by its answer code, in a row all web processes share (/metrics)."""
        response = super().finalize_response(request, response, *args, **kwargs)
        counter_add(WEBHOOK_DELIVERIES, str(response.status_code))
        return response

    @extend_schema(request={"application/json": OpenApiTypes.OBJECT}, responses=WEBHOOK_ANSWERS)
    def post(self, request, token: str):
        failures = FailureThrottle(SIGNATURE_FAILURES, request)
        if failures.blocked():
            return throttled_response(failures.retry_after())
        trigger = webhook_trigger(token)
        if trigger is None:
            failures.record()  # guessing addresses counts like guessing signatures
            return error("No webhook at this address.", status.HTTP_404_NOT_FOUND)
        body = request.body
        signed = self._authenticate(request, body, trigger, failures)
        if isinstance(signed, Response):
            return signed
        if not trigger.is_enabled or trigger.workflow.status != Workflow.Status.ACTIVE:
            return error(
                "This webhook is not accepting deliveries: its workflow is inactive.", status.HTTP_409_CONFLICT
            )
        problem = self._check_request(request, trigger)
        if problem:
            return problem
        try:
            payload = json_parse(body or b"{}")
        except JSONInputError as exc:  # depth, NaN/Infinity and huge numbers too: a 400, never a 500
            return error(f"Malformed JSON: {exc}", status.HTTP_400_BAD_REQUEST, "body")
        if not isinstance(payload, dict):
            return error("The body must be a JSON object.", status.HTTP_400_BAD_REQUEST, "body")
        return self._start(request, trigger, payload, signed)

    def _authenticate(self, request, body: bytes, trigger: Trigger, failures: FailureThrottle) -> str | None | Response:
        """The signed replay digest (or None) when the request's credential is valid, else the error answer."""
        if len(body) > settings.FAOS_WEBHOOK_MAX_BYTES:
            return error(
                f"Body larger than {settings.FAOS_WEBHOOK_MAX_BYTES} bytes.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            )
        try:
            return verify(
                trigger.config.get("auth", "token"),
                body=body,
                headers=request.headers,
                secrets=trigger.secrets or [],
                header=trigger.config.get("header"),
                method=request.method,
                url=request.build_absolute_uri(),
            )
        except SignatureError as exc:
            failures.record()
            return error(str(exc), exc.status)

    def _check_request(self, request, trigger: Trigger) -> Response | None:
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type not in JSON_TYPES and not content_type.endswith("+json"):
            return error(
                f"Send JSON (Content-Type: application/json), not '{content_type}'.",
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        if not self._within_rate(trigger):
            return throttled_response(60, "Too many deliveries; slow down.")
        return None

    def _within_rate(self, trigger: Trigger) -> bool:
        limit = trigger.config.get("rate_per_minute") or settings.FAOS_WEBHOOK_RATE_PER_MINUTE
        key = f"faos:hook:{trigger.pk}:{timezone.now():%Y%m%d%H%M}"
        return count_in_window(key, 120) <= limit

    def _start(self, request, trigger: Trigger, payload: dict, signed: str | None) -> Response:
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
                idempotency_key=_delivery_key(request, trigger, payload, signed),
                trigger_meta={"headers": headers, "trigger_id": trigger.pk},
            )
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_409_CONFLICT)
        return Response(
            {
                "started": True,
                "execution_id": execution.pk,
                "status": execution.status,
                "status_url": request.build_absolute_uri(reverse("api:execution-detail", args=[execution.pk])),
            },
            status=status.HTTP_202_ACCEPTED,
        )


def _delivery_key(request, trigger: Trigger, payload: dict, signed: str | None) -> str | None:
    """What the signature vouches for (Stripe's evt_…, else the signed content) wins over Idempotency-Key.

    Unsigned headers (Idempotency-Key, X-Shopify-Webhook-Id) could be changed on a replay, so they only
    count for schemes that sign no delivery (none, token, generic HMAC).
    """
    key = delivery_id(trigger.config.get("auth", "token"), payload, signed)
    if key is None and request.headers.get("Idempotency-Key"):
        key = "key:" + request.headers["Idempotency-Key"]
    return f"webhook:{key}"[:200] if key else None
