"""API serializers for runs, step runs, approvals and events."""

from django.urls import reverse
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


class ExecutionDetailSerializer(ExecutionSerializer):
    step_runs = StepRunSerializer(many=True, read_only=True)

    class Meta(ExecutionSerializer.Meta):
        fields = ExecutionSerializer.Meta.fields + ("step_runs",)


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
