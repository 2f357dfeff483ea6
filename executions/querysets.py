"""Querysets for executions and step runs."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class UsageMixin:
    """Model usage totals in one aggregate query (per execution, per workflow, overall)."""

    def usage(self) -> dict:
        from django.db.models import Sum

        prefix = "" if self.model.__name__ == "StepRun" else "step_runs__"
        totals = self.aggregate(
            tokens_in=Sum(f"{prefix}tokens_in"),
            tokens_out=Sum(f"{prefix}tokens_out"),
            cost_usd=Sum(f"{prefix}cost_usd"),
        )
        return {k: v or 0 for k, v in totals.items()}


class ExecutionQuerySet(UsageMixin, models.QuerySet):
    """Filters for the history, the dashboard and the sweep."""

    def unfinished(self):
        return self.filter(status__in=self.model.UNFINISHED)

    def finished(self):
        return self.filter(status__in=self.model.FINISHED)

    def failed(self):
        return self.filter(status="failed")

    def past_deadline(self, now=None):
        return self.unfinished().filter(deadline_at__lt=now or timezone.now())

    def live(self):
        return self.filter(is_test=False)


class StepRunQuerySet(UsageMixin, models.QuerySet):
    """Filters for claiming work and for the sweep."""

    def runnable(self, now=None):
        now = now or timezone.now()
        return self.filter(status="pending").filter(Q(wake_at__isnull=True) | Q(wake_at__lte=now))

    def needs_kick(self, now, stale_before=None):
        """Runnable rows nobody has been told about (timer due), or told before `stale_before` (message lost)."""
        told = Q(enqueued_at__isnull=True)
        return self.runnable(now).filter(told | Q(enqueued_at__lt=stale_before) if stale_before else told)

    def lease_expired(self, now=None):
        return self.filter(status="running", lease_expires_at__lt=now or timezone.now())

    def active(self):
        return self.filter(status__in=self.model.OPEN)
