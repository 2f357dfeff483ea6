"""Form fields for JSON typed by hand (admin text boxes): the same strict parse as the API, errors as messages."""

from __future__ import annotations

import json

from django import forms
from django.db import models

from .json_input import JSONInputError, json_parse


class StrictJSONDecoder(json.JSONDecoder):
    """json.loads(cls=…) with the API's limits; every refusal is a JSONDecodeError, which forms expect."""

    def decode(self, s, _w=None):
        try:
            return json_parse(s)
        except JSONInputError as exc:
            raise json.JSONDecodeError(str(exc), s if isinstance(s, str) else "", 0) from None


class StrictJSONFormField(forms.JSONField):
    """A model JSONField's form field that refuses deep nesting, NaN/Infinity and huge numbers with the reason."""

    def __init__(self, **kwargs):
        kwargs["decoder"] = StrictJSONDecoder
        super().__init__(**kwargs)

    def to_python(self, value):
        if isinstance(value, str) and value not in self.empty_values and not self.disabled:
            try:
                json_parse(value)
            except JSONInputError as exc:
                raise forms.ValidationError(f"Not valid JSON: {exc}.", code="invalid") from None
        return super().to_python(value)


# ModelAdmin.formfield_overrides for admins whose JSON boxes come from the model (no form of their own).
STRICT_JSON = {models.JSONField: {"form_class": StrictJSONFormField}}
