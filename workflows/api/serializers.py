"""API serializers for workflows: one nested definition with steps and triggers."""

from django.db import transaction
from rest_framework import serializers

from executions.engine import kinds
from executions.engine.spelling import canonical_config, canonical_definition
from faos.fields import JSON_INPUT_MAPPING

from .. import authz
from ..config_checks import config_errors, trigger_problems
from ..models import RESERVED_STEP_KEYS, Step, Trigger, Workflow, WorkflowVersion
from ..step_reference import config_description
from ..triggers import trigger_sync

STEP_FIELDS = (
    "key",
    "name",
    "kind",
    "config",
    "next",
    "branches",
    "timeout_seconds",
    "on_error",
    "on_error_goto",
    "retry",
)


class RetrySerializer(serializers.Serializer):
    """A step's retry policy, as `retry: {max_attempts, …}` (the export format's spelling)."""

    max_attempts = serializers.IntegerField(source="retry_max_attempts", min_value=1, max_value=32767, required=False)
    initial_delay = serializers.FloatField(source="retry_initial_delay", min_value=0, required=False)
    multiplier = serializers.FloatField(source="retry_multiplier", min_value=1, required=False)
    max_delay = serializers.FloatField(source="retry_max_delay", min_value=0, required=False)
    jitter = serializers.BooleanField(source="retry_jitter", required=False)


class StepSerializer(serializers.ModelSerializer):
    """One step, spelt as in the export format; old spellings are read with a note (see WorkflowSerializer)."""

    serializer_field_mapping = JSON_INPUT_MAPPING
    next = serializers.CharField(
        source="next_step",
        max_length=63,
        allow_blank=True,
        required=False,
        help_text='Key of the step to run next; empty = the following step; "end" ends the path. Old: next_step.',
    )
    retry = RetrySerializer(source="*", required=False, help_text="Old: retry_max_attempts, retry_initial_delay, …")

    class Meta:
        model = Step
        fields = STEP_FIELDS
        extra_kwargs = {
            "key": {"validators": []},
            "kind": {"help_text": f"The step kind: {', '.join(kinds.names())} (default action)."},
            "config": {"help_text": config_description()},  # every kind's settings, from their schemas
        }

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["config"] = canonical_config(data["kind"], data["config"])[0]
        return data

    def validate_kind(self, value):
        if kinds.get(value) is None:
            raise serializers.ValidationError(f"Unknown step kind '{value}'. Known: {', '.join(kinds.names())}.")
        return value

    def validate_key(self, value):
        if value in RESERVED_STEP_KEYS:
            raise serializers.ValidationError(f"'{value}' is a reserved variable name.")
        return value

    def validate_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def validate(self, attrs):
        """The config against its kind's schema and its action's inputs, as the admin's step form checks it."""
        kind = attrs.get("kind", self.instance.kind if isinstance(self.instance, Step) else "action")
        problems = config_errors(kind, attrs.get("config") or {})
        if problems:
            raise serializers.ValidationError({"config": problems})
        return attrs


class TriggerSerializer(serializers.ModelSerializer):
    """A trigger on its own: `workflow` is chosen when it is created (among those you can see) and then kept."""

    serializer_field_mapping = JSON_INPUT_MAPPING
    secrets = serializers.ListField(child=serializers.CharField(), write_only=True, required=False)
    webhook_url = serializers.SerializerMethodField()
    has_secret = serializers.SerializerMethodField()
    generated_secret = serializers.SerializerMethodField()

    class Meta:
        model = Trigger
        fields = (
            "id",
            "workflow",
            "kind",
            "name",
            "config",
            "is_enabled",
            "secrets",
            "has_secret",
            "generated_secret",
            "webhook_url",
        )

    def get_fields(self):
        fields = super().get_fields()
        workflow, request = fields["workflow"], self.context.get("request")
        if self.instance is not None:
            workflow.read_only = True  # a trigger never moves to another workflow
        elif not workflow.read_only and request is not None:
            # An unknown and an invisible workflow get the same 400, so ids of others' workflows stay unknown.
            workflow.queryset = authz.visible(request.user, Workflow)
        return fields

    def get_webhook_url(self, obj) -> str | None:
        if obj.kind != Trigger.Kind.WEBHOOK:
            return None
        request = self.context.get("request")
        path = f"/api/hooks/{obj.token}/"
        return request.build_absolute_uri(path) if request else path

    def get_has_secret(self, obj) -> bool:
        return bool(obj.secrets)

    def get_generated_secret(self, obj) -> str | None:
        """The secret FAOS generated for a token or HMAC webhook, in the answer that created it only (else null)."""
        return getattr(obj, "generated_secret", None)

    def validate_config(self, value):
        if not isinstance(value, dict):  # a form's "null" arrives here as None
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def validate(self, attrs):
        current = self.instance if isinstance(self.instance, Trigger) else None
        kind = attrs.get("kind", current.kind if current else Trigger.Kind.MANUAL)
        errors = trigger_problems(kind, attrs.get("config", current.config if current else {}) or {})
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class NestedTriggerSerializer(TriggerSerializer):
    """A trigger inside a workflow definition: `id` keeps that trigger of this workflow; without it, a new one."""

    id = serializers.IntegerField(required=False)

    class Meta(TriggerSerializer.Meta):
        extra_kwargs = {"workflow": {"read_only": True}}


LIMIT_FIELDS = ("concurrency_limit", "concurrency_key")


class WorkflowSerializer(serializers.ModelSerializer):
    serializer_field_mapping = JSON_INPUT_MAPPING
    steps = StepSerializer(many=True, required=False)
    triggers = NestedTriggerSerializer(many=True, required=False)
    active_version = serializers.IntegerField(
        source="active_version.number", read_only=True, default=None, allow_null=True
    )
    owner = serializers.CharField(source="owner.username", read_only=True, default=None)
    warnings = serializers.SerializerMethodField(
        help_text="Deprecation notes: each old spelling this request used (e.g. steps[0].next_step), still read."
    )

    class Meta:
        model = Workflow
        fields = (
            "id",
            "name",
            "description",
            "status",
            "owner",
            "timeout_seconds",
            "on_failure",
            "activation_review",
            "concurrency_limit",
            "concurrency_key",
            "concurrency_overflow",
            "sample_input",
            "active_version",
            "steps",
            "triggers",
            "created_at",
            "updated_at",
            "warnings",
        )
        read_only_fields = ("status", "created_at", "updated_at")

    def to_internal_value(self, data):
        """Old spellings (next_step, retry_max_attempts, an action's inputs) are read as the current ones, noted."""
        if isinstance(data, dict) and isinstance(data.get("steps"), list):
            current, self._warnings = canonical_definition({"steps": data["steps"]})
            data = {**data, "steps": current["steps"]}
        return super().to_internal_value(data)

    def get_warnings(self, obj) -> list[str]:
        return list(getattr(obj, "deprecations", None) or getattr(self, "_warnings", []))

    def validate_sample_input(self, value):
        if not isinstance(value, dict):  # run input is an object; a form's "null" arrives here as None
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def validate_steps(self, steps):
        keys = [s["key"] for s in steps]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise serializers.ValidationError(f"Step keys must be unique: {', '.join(duplicates)}.")
        return steps

    @transaction.atomic
    def create(self, validated):
        steps, triggers = validated.pop("steps", []), validated.pop("triggers", [])
        workflow = Workflow.objects.create(**validated)
        self._replace(workflow, steps, triggers)
        return workflow

    @transaction.atomic
    def update(self, workflow, validated):
        steps, triggers = validated.pop("steps", None), validated.pop("triggers", None)
        limits_changed = any(validated.get(f, getattr(workflow, f)) != getattr(workflow, f) for f in LIMIT_FIELDS)
        for field, value in validated.items():
            setattr(workflow, field, value)
        workflow.save()
        self._replace(workflow, steps, triggers)
        if limits_changed:
            from executions.services import executions_start_queued

            executions_start_queued(workflow=workflow)  # a raised limit lets queued runs go at once
        return workflow

    def _replace(self, workflow, steps, triggers):
        """The draft is replaced as a whole; versions (and runs on them) are untouched."""
        if steps is not None:
            workflow.steps.all().delete()
            Step.objects.bulk_create(Step(workflow=workflow, position=i, **s) for i, s in enumerate(steps))
        if triggers is not None:
            kept = {t.get("id") for t in triggers if t.get("id")}
            workflow.triggers.exclude(pk__in=kept).delete()
            for data in triggers:
                data = dict(data)
                trigger = workflow.triggers.filter(pk=data.pop("id", None)).first() or Trigger(workflow=workflow)
                for field, value in data.items():
                    setattr(trigger, field, value)
                trigger.save()
                trigger_sync(trigger=trigger)


class VersionSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = WorkflowVersion
        fields = ("number", "note", "is_active", "created_by", "created_at", "activated_at", "definition")

    def to_representation(self, instance):
        """A version frozen in an old spelling is shown in the current one (the stored JSON stays as it was)."""
        data = super().to_representation(instance)
        data["definition"] = canonical_definition(data["definition"])[0]
        return data


class VersionNoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ProblemSerializer(serializers.Serializer):
    step = serializers.CharField(allow_null=True)
    field = serializers.CharField()
    message = serializers.CharField()
