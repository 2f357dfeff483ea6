"""Serializer fields shared by the API."""

from django.db import models
from rest_framework import serializers

from .json_input import JSONInputError, json_parse


class JSONInput(serializers.JSONField):
    """DRF's JSONField, with JSON typed into a form read by the API's strict parser too (no NaN, no NUL, limits)."""

    def to_internal_value(self, data):
        if getattr(data, "is_json_string", False):  # DRF would hand it to json.loads, which takes anything
            try:
                return json_parse(str(data))
            except JSONInputError as exc:
                raise serializers.ValidationError(f"Value must be valid JSON: {exc}.")
        return super().to_internal_value(data)


# For ModelSerializer.serializer_field_mapping: model JSONFields become JSONInput.
JSON_INPUT_MAPPING = {**serializers.ModelSerializer.serializer_field_mapping, models.JSONField: JSONInput}


class SlugField(serializers.SlugRelatedField):
    """DRF's SlugRelatedField, refusing a NUL byte (PostgreSQL cannot even look it up: a 500 otherwise)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            raise serializers.ValidationError("Null characters are not allowed.")
        return super().to_internal_value(data)
