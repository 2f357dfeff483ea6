"""Querysets for workflow definitions, and a per-row count that does not join the counted table."""

from django.db import models
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce


class WorkflowQuerySet(models.QuerySet):
    """Filters used by the admin, API and triggers."""

    def active(self):
        return self.filter(status="active", active_version__isnull=False)

    def runnable(self):
        """Workflows that accept new runs from triggers (active ones)."""
        return self.active()


def count_of(related: models.QuerySet, field: str) -> Coalesce:
    """COUNT of `related` rows whose `field` is the outer row, as a correlated subquery (0 when none).

    Counting two relations with joins multiplies their rows before the GROUP BY (20 steps x 20,000 runs read
    400,000 rows); one subquery per count reads each relation once, through its index on `field`.
    """
    counted = related.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)
