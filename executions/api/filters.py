"""Query filters whose odd values get a 400 naming the parameter instead of reaching the database."""

from datetime import UTC, timedelta

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

# Real UTC offsets run from −12:00 (Baker Island) to +14:00 (Kiribati); PostgreSQL refuses beyond ±15:59.
OFFSETS = (timedelta(hours=-12), timedelta(hours=14))


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time with a real UTC offset, handed on in UTC."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        offset = moment.utcoffset()
        if offset is not None and not OFFSETS[0] <= offset <= OFFSETS[1]:
            raise forms.ValidationError("The UTC offset must be between -12:00 and +14:00.", code="invalid")
        try:
            return moment.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is before year 1 in UTC
            raise forms.ValidationError("Out of the supported range of dates.", code="invalid")


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField
