"""Querysets for workflow definitions."""

from django.db import models


class WorkflowQuerySet(models.QuerySet):
    """Filters used by the admin, API and triggers."""

    def active(self):
        return self.filter(status="active", active_version__isnull=False)

    def runnable(self):
        """Workflows that accept new runs from triggers (active ones)."""
        return self.active()
