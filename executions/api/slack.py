"""POST /api/slack/interactions/ — Slack's interactivity Request URL: button presses and modal submits.

No login: the request must carry Slack's signature (X-Slack-Signature over "v0:<timestamp>:<raw body>" with a
Slack connection's signing secret, timestamp within five minutes, each signed request accepted once). Who
decides is the presser's mapped FAOS user (executions/slack.py), checked by workflows.authz like in the inbox.
"""

from urllib.parse import parse_qs

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from faos.json_input import JSONInputError, json_parse
from faos.schema import FIELD_ERRORS, ErrorDetail
from faos.throttling import SIGNATURE_FAILURES, FailureThrottle, throttled_response
from integrations.webhooks import SignatureError

from ..slack import Press, interaction_handle, slack_spend, slack_verify


def _error(message: str, code: int, field: str = "detail") -> Response:
    return Response({field: message} if field == "detail" else {field: [message]}, status=code)


class SlackInteractionsView(APIView):
    """Slack posts a form with one field, `payload` (JSON): block_actions for buttons, view_submission for modals."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()  # bad signatures are held by the failure throttle, as for webhooks

    @extend_schema(
        request={"application/x-www-form-urlencoded": OpenApiTypes.OBJECT},
        responses={
            200: OpenApiTypes.OBJECT,
            400: FIELD_ERRORS,
            **{code: ErrorDetail for code in (401, 403, 413, 429)},
        },
    )
    def post(self, request):
        failures = FailureThrottle(SIGNATURE_FAILURES, request)
        if failures.blocked():
            return throttled_response(failures.retry_after())
        body = request.body
        if len(body) > settings.FAOS_WEBHOOK_MAX_BYTES:
            return _error("Body too large.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        try:
            connection, digest = slack_verify(body=body, headers=request.headers)
        except SignatureError as exc:
            failures.record()
            return _error(str(exc), exc.status)
        if not slack_spend(digest):
            failures.record()
            return _error("This request was already received (replayed).", status.HTTP_403_FORBIDDEN)
        try:
            form = parse_qs(body.decode("utf-8"), strict_parsing=False)
            payload = json_parse((form.get("payload") or [""])[0].encode())
        except (UnicodeDecodeError, JSONInputError) as exc:
            return _error(f"Malformed payload: {exc}", status.HTTP_400_BAD_REQUEST, "payload")
        if not isinstance(payload, dict):
            return _error("The payload must be a JSON object.", status.HTTP_400_BAD_REQUEST, "payload")
        answer = interaction_handle(Press(connection=connection, payload=payload, digest=digest))
        return Response(answer) if answer else Response(status=status.HTTP_200_OK)
