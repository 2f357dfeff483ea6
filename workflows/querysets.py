"""Querysets for workflow definitions, a per-row count that does not join the counted table, and the webhook's read."""

from functools import lru_cache

from django.db import models
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from faos.db import columns, models_from_row, prepared_cursor


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


@lru_cache(maxsize=1)
def _webhook_sql() -> str:
    from .models import Trigger, Workflow, WorkflowVersion

    return (  # noqa: S608 - only constant names and a placeholder
        f"SELECT {columns('t', Trigger)}, {columns('w', Workflow)}, {columns('v', WorkflowVersion)}"
        f" FROM {Trigger._meta.db_table} t JOIN {Workflow._meta.db_table} w ON w.id = t.workflow_id"
        f" LEFT JOIN {WorkflowVersion._meta.db_table} v ON v.id = w.active_version_id"
        f" WHERE t.token = %s AND t.kind = 'webhook' ORDER BY t.id LIMIT 1"
    )


def webhook_trigger(token: str):
    """The webhook trigger with this token (enabled or not), its workflow and that one's active version, or None.

    Every delivery reads this first: one written-out SELECT, where compiling and building the select_related
    query took 3.6–3.8 ms of CPU per delivery (the SELECT itself well under one).
    """
    from .models import Trigger, Workflow, WorkflowVersion

    with prepared_cursor() as cursor:
        cursor.execute(_webhook_sql(), [token])
        row = cursor.fetchone()
    if row is None:
        return None
    trigger, workflow, version = models_from_row(row, (Trigger, Workflow, WorkflowVersion))
    workflow.active_version = version
    trigger.workflow = workflow
    return trigger
