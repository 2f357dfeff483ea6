"""Querysets for executions and step runs."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class ExecutionQuerySet(models.QuerySet):
    """Filters for the history, the dashboard and the sweep."""

    def unfinished(self):
        return self.filter(status__in=("pending", "running", "waiting"))

    def finished(self):
        return self.filter(status__in=("succeeded", "failed", "cancelled", "timed_out"))

    def failed(self):
        return self.filter(status="failed")

    def past_deadline(self, now=None):
        return self.unfinished().filter(deadline_at__lt=now or timezone.now())

    def live(self):
        return self.filter(is_test=False)


class StepRunQuerySet(models.QuerySet):
    """Filters for claiming work and for the sweep."""

    def runnable(self, now=None):
        now = now or timezone.now()
        return self.filter(status="pending").filter(Q(wake_at__isnull=True) | Q(wake_at__lte=now))

    def needs_kick(self, now, stale_before):
        """Runnable rows nobody has been told about recently (timer due, or message lost)."""
        return self.runnable(now).filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale_before))

    def lease_expired(self, now=None):
        return self.filter(status="running", lease_expires_at__lt=now or timezone.now())

    def active(self):
        return self.filter(status__in=("pending", "running"))
