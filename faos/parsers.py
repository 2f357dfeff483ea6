"""The API's JSON parser and error answers: hostile bodies get a 4xx JSON answer, never a 500 or an HTML page."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .json_input import JSONInputError, json_parse

logger = logging.getLogger(__name__)
DEFAULT_MAX_BYTES = 2_621_440  # Django's own default for DATA_UPLOAD_MAX_MEMORY_SIZE


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def max_body_bytes() -> int:
    """The largest request body the API reads (DATA_UPLOAD_MAX_MEMORY_SIZE, as for Django's own forms)."""
    return getattr(settings, "DATA_UPLOAD_MAX_MEMORY_SIZE", None) or DEFAULT_MAX_BYTES


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than {limit} bytes.")


def read_body(stream, request=None, limit: int | None = None) -> bytes:
    """At most limit bytes of the body; a larger body is refused before (or while) it is read."""
    limit = limit or max_body_bytes()
    declared = (request.META.get("CONTENT_LENGTH") if request is not None else None) or "0"
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    body = stream.read(limit + 1) if stream is not None else b""
    if len(body) > limit:
        raise too_large(limit)
    return body


class StrictJSONParser(JSONParser):
    """DRF's JSONParser with limits: body size (413), nesting depth, NaN/Infinity and huge numbers (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        body = read_body(stream, getattr(request, "_request", request))
        try:
            return json_parse(body)
        except JSONInputError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def exception_handler(exc, context):
    """DRF's handler, plus Django's refusals of oversized or malformed requests as JSON (413/400)."""
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": f"The request body is larger than {max_body_bytes()} bytes."}, status=413)
    if isinstance(exc, SuspiciousOperation):
        return Response({"detail": f"Bad request: {exc}"[:300]}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RecursionError):  # a last line of defence: deep data must never become a 500
        logger.warning("RecursionError answered as 400 in %s", type(context.get("view")).__name__)
        return Response({"detail": "The request is nested too deeply."}, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
