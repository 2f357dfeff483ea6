"""API serializers for runs, step runs, approvals and events."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from faos.fields import JSON_INPUT_MAPPING

from ..concurrency import waiting_reason
from ..models import Approval, Event, Execution, StepRun


class StepRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = StepRun
        fields = (
            "id",
            "step_key",
            "step_name",
            "step_kind",
            "scope",
            "visit",
            "attempt",
            "status",
            "input",
            "output",
            "requests",
            "error",
            "retryable",
            "branch",
            "started_at",
            "finished_at",
            "duration_ms",
            "wake_at",
            "worker",
        )


class ExecutionSerializer(serializers.ModelSerializer):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    status_url = serializers.SerializerMethodField()
    queued_reason = serializers.SerializerMethodField()

    class Meta:
        model = Execution
        fields = (
            "id",
            "workflow",
            "workflow_name",
            "version",
            "status",
            "input",
            "output",
            "variables",
            "trigger_kind",
            "trigger_source",
            "is_test",
            "error",
            "error_step",
            "retry_of",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
            "concurrency_key",
            "queued_reason",
            "status_url",
        )

    def get_queued_reason(self, obj) -> str:
        """Why a queued run waits (its key's runs in flight, the limit, how many are ahead); "" otherwise."""
        return waiting_reason(obj)

    def get_status_url(self, obj) -> str:
        path = reverse("api:execution-detail", args=[obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


EMBEDDED_STEP_RUNS = 100  # a run's detail embeds its first step runs; /steps/ pages through all of them


class ExecutionDetailSerializer(ExecutionSerializer):
    """A run with its first EMBEDDED_STEP_RUNS step runs (by id); the rest are paged at step_runs_url."""

    step_runs = serializers.SerializerMethodField(
        help_text=f"The run's first {EMBEDDED_STEP_RUNS} step runs in the order they started; the rest: step_runs_next."
    )
    step_runs_count = serializers.SerializerMethodField()
    step_runs_url = serializers.SerializerMethodField()
    step_runs_next = serializers.SerializerMethodField()

    class Meta(ExecutionSerializer.Meta):
        fields = ExecutionSerializer.Meta.fields + ("step_runs", "step_runs_count", "step_runs_url", "step_runs_next")

    def _first(self, obj) -> list[StepRun]:
        """The first step runs plus one, to tell whether there are more, read once per run."""
        if getattr(obj, "_first_step_runs", None) is None:
            obj._first_step_runs = list(obj.step_runs.order_by("id")[: EMBEDDED_STEP_RUNS + 1])
        return obj._first_step_runs

    @extend_schema_field(StepRunSerializer(many=True))
    def get_step_runs(self, obj) -> list[dict]:
        """The run's first step runs in the order they started (at most EMBEDDED_STEP_RUNS)."""
        return StepRunSerializer(self._first(obj)[:EMBEDDED_STEP_RUNS], many=True, context=self.context).data

    def get_step_runs_count(self, obj) -> int:
        """How many step runs the run has in all (a loop has one per item)."""
        first = self._first(obj)
        return len(first) if len(first) <= EMBEDDED_STEP_RUNS else obj.step_runs.count()

    def get_step_runs_url(self, obj) -> str:
        """Every step run of the run, paged, with filters status, step, scope, scope_prefix and top_level."""
        return self._absolute(reverse("api:execution-steps", args=[obj.pk]))

    def get_step_runs_next(self, obj) -> str | None:
        """The page of step runs after the embedded ones, or null when step_runs holds them all."""
        if len(self._first(obj)) <= EMBEDDED_STEP_RUNS:
            return None
        return self._absolute(reverse("api:execution-steps", args=[obj.pk]) + "?page=2")

    def _absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ApprovalSerializer(serializers.ModelSerializer):
    workflow = serializers.CharField(source="execution.workflow.name", read_only=True)
    decisions = serializers.SerializerMethodField()

    class Meta:
        model = Approval
        fields = (
            "id",
            "title",
            "details",
            "amount",
            "currency",
            "status",
            "workflow",
            "execution",
            "required_approvals",
            "due_at",
            "created_at",
            "decided_at",
            "comment",
            "decisions",
        )

    def get_decisions(self, obj) -> list[dict]:
        return [
            {
                "user": d.user.get_username(),
                "decision": d.decision,
                "comment": d.comment,
                "at": d.created_at.isoformat(),
            }
            for d in obj.decisions.all()
        ]


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class DelegateSerializer(serializers.Serializer):
    to = serializers.CharField(help_text="Username of another member of the approver groups.")


class EventSerializer(serializers.ModelSerializer):
    serializer_field_mapping = JSON_INPUT_MAPPING
    started = serializers.ListField(child=serializers.IntegerField(), read_only=True, default=list)

    class Meta:
        model = Event
        fields = ("id", "type", "data", "source", "created_at", "resumed", "started")
        read_only_fields = ("id", "source", "created_at", "resumed")

    def validate_type(self, value):
        if not value.replace(".", "").replace("_", "").replace("-", "").isalnum():
            raise serializers.ValidationError("Use letters, digits, dots, dashes and underscores, e.g. order.created.")
        return value
