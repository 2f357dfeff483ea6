"""Replay look-ups: the latest replay of a draft version (four-eyes activation shows it), a workflow's replays."""

from django.db import models


class ReplayQuerySet(models.QuerySet):
    def of_workflow(self, workflow):
        return self.filter(workflow=workflow)

    def for_version(self, version):
        """Replays of this draft version, newest first."""
        return self.filter(draft_version=version).order_by("-created_at", "-id")

    def latest_for(self, workflow, version):
        """The newest replay of `version` of `workflow`, or None."""
        return self.filter(workflow=workflow).for_version(version).select_related("requested_by").first()
