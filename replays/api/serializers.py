"""API shapes of a replay: the request (the selection), the replay with its progress, each run's report."""

from django.urls import reverse
from rest_framework import serializers

from ..models import Replay, ReplayItem
from ..selection import FINISHED, MAX_RUNS


class SelectionSerializer(serializers.Serializer):
    """Which past runs to replay (for the schema; replays.selection checks the body and names a bad field)."""

    last = serializers.IntegerField(required=False, min_value=1, max_value=MAX_RUNS, help_text="The newest N runs.")
    status = serializers.ListField(
        child=serializers.ChoiceField(choices=FINISHED), required=False, help_text="Only runs that ended so."
    )
    failed = serializers.BooleanField(required=False, help_text="Only failed and timed-out runs.")
    since = serializers.CharField(required=False, help_text="Runs started on or after (date or date-time).")
    until = serializers.CharField(required=False, help_text="Runs started on or before (date or date-time).")
    trigger = serializers.CharField(required=False, help_text="Only runs of this trigger kind, e.g. webhook.")
    executions = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, help_text="These runs, by id."
    )


class ReplayItemSerializer(serializers.ModelSerializer):
    differences = serializers.SerializerMethodField()
    original = serializers.SerializerMethodField()
    replayed = serializers.SerializerMethodField()

    class Meta:
        model = ReplayItem
        fields = (
            "id",
            "original_execution",
            "replay_execution",
            "verdict",
            "outcome_changed",
            "error",
            "differences",
            "original",
            "replayed",
            "finished_at",
        )

    def get_differences(self, item) -> list:
        return item.diff.get("differences", [])

    def get_original(self, item) -> dict | None:
        """The original run's path: status, output and each step visit (key, status, branch, input, output)."""
        return item.diff.get("old")

    def get_replayed(self, item) -> dict | None:
        """The replay run's path, in the same shape."""
        return item.diff.get("new")


class ReplaySerializer(serializers.ModelSerializer):
    draft_version = serializers.IntegerField(source="draft_version.number", read_only=True)
    base_version = serializers.IntegerField(source="base_version.number", read_only=True, allow_null=True)
    requested_by = serializers.CharField(source="requested_by.get_username", read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()
    report_page = serializers.SerializerMethodField()

    class Meta:
        model = Replay
        fields = (
            "id",
            "workflow",
            "draft_version",
            "base_version",
            "requested_by",
            "selection",
            "status",
            "total",
            "done",
            "summary",
            "created_at",
            "started_at",
            "finished_at",
            "url",
            "report_page",
        )

    def get_url(self, replay) -> str:
        return reverse("api:replay-detail", args=[replay.pk])

    def get_report_page(self, replay) -> str:
        return reverse("admin:workflows_workflow_replayreport", args=[replay.workflow_id, replay.pk])


class ReplayDetailSerializer(ReplaySerializer):
    """A replay with each run's report (`summary` counts the runs compared so far while it runs)."""

    items = ReplayItemSerializer(many=True, read_only=True)

    class Meta(ReplaySerializer.Meta):
        fields = (*ReplaySerializer.Meta.fields, "items")
