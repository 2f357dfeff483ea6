"""The OpenAPI schema class: every operation also documents the error answers it can give, in DRF's shapes."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorDetail(serializers.Serializer):
    """DRF's answer for everything that is not about a field: {"detail": "message"}."""

    detail = serializers.CharField()


# {"field": ["message"]}, nested for nested input, or {"detail": "message"}: any JSON object.
FIELD_ERRORS = OpenApiResponse(OpenApiTypes.OBJECT, description='Invalid input: {"field": ["message"], …}.')
DETAIL = {
    "401": "No or invalid credentials.",
    "403": "You may not do this.",
    "404": "Not found, or not visible to you.",
    "413": "Request body too large.",
    "415": "A Content-Type the operation does not read.",
    "429": "Too many requests; slow down.",
}


class AutoSchema(SpectacularAutoSchema):
    """Adds 400/401/403/404/413/415/429 where the view can answer them, unless the operation documents its own."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                error = FIELD_ERRORS if code == "400" else OpenApiResponse(ErrorDetail, description=DETAIL[code])
                responses[code] = self._get_response_for_code(error, code, direction=direction)
        return responses

    def _error_codes(self) -> list[str]:
        codes = []
        has_body = self.method in ("POST", "PUT", "PATCH")
        if has_body or self._has_query_parameters():
            codes.append("400")
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes += ["401", "403"]
        if "{" in self.path or (self._is_list_view() and self._get_paginator()):  # or ?page= past the end
            codes.append("404")
        if has_body:
            codes += ["413", "415"]  # the parsers' size limit; a body they cannot read
        if self.view.get_throttles():
            codes.append("429")
        return codes

    def _has_query_parameters(self) -> bool:
        return any(p.get("in") == "query" for p in self._get_parameters())
