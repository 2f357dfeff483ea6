"""API for four-eyes activation: requests waiting for a second editor, with their diff; approve, reject, withdraw."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from faos.schema import FIELD_ERRORS, ErrorDetail

from .. import authz
from ..activation import (
    ActivationError,
    activation_decide,
    activation_diff,
    activation_is_stale,
    activation_replay_report,
    activations_visible_to,
)
from ..models import ActivationRequest
from ..services import WorkflowInvalid
from .permissions import Rules


class ActivationRequestSerializer(serializers.ModelSerializer):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True, help_text="The reviewed version.")
    base_version = serializers.IntegerField(
        source="base_version.number",
        read_only=True,
        default=None,
        allow_null=True,
        help_text="The version live when it was asked for (null: the first activation).",
    )
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, default=None, allow_null=True)
    last_author = serializers.CharField(source="last_author.username", read_only=True, default=None, allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, default=None, allow_null=True)
    stale = serializers.SerializerMethodField(
        help_text="Pending, and the draft changed since: approving activates the reviewed version, not the draft."
    )
    may_decide = serializers.SerializerMethodField(help_text="Whether you may approve or reject it.")
    diff = serializers.SerializerMethodField(help_text="The reviewed version against base_version.")
    replay_report = serializers.SerializerMethodField(
        help_text="Newest replay of past runs through this version (summary, url); null when none."
    )

    class Meta:
        model = ActivationRequest
        fields = (
            "id",
            "workflow",
            "workflow_name",
            "version",
            "base_version",
            "status",
            "reasons",
            "requested_by",
            "last_author",
            "decided_by",
            "comment",
            "created_at",
            "decided_at",
            "stale",
            "may_decide",
            "diff",
            "replay_report",
        )
        read_only_fields = fields

    def get_stale(self, obj) -> bool:
        return obj.status == ActivationRequest.Status.PENDING and activation_is_stale(obj)

    def get_may_decide(self, obj) -> bool:
        request = self.context.get("request")
        pending = obj.status == ActivationRequest.Status.PENDING
        return bool(request and pending and authz.may(request.user, "decide", obj))

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_diff(self, obj):
        return activation_diff(obj)

    @extend_schema_field(serializers.JSONField(allow_null=True))
    def get_replay_report(self, obj):
        return activation_replay_report(obj)


class ActivationDecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="Required when you reject."
    )


DECIDED = {200: ActivationRequestSerializer, 400: FIELD_ERRORS, 409: ErrorDetail}


class ActivationRequestViewSet(viewsets.ReadOnlyModelViewSet):
    """Activations waiting for a second editor (of the workflows you can see); decide each once."""

    serializer_class = ActivationRequestSerializer
    permission_classes = (Rules,)
    authz_model = "workflows.activationrequest"
    # Seeing it is enough to ask: the service says why you may not (your own request, your own edit).
    authz_actions = {"approve": ("view", "view"), "reject": ("view", "view"), "withdraw": ("view", "view")}
    filterset_fields = ("status", "workflow")
    queryset = ActivationRequest.objects.none()  # typing for the schema; get_queryset scopes by user

    def get_queryset(self):
        return activations_visible_to(self.request.user).order_by("-created_at", "-id")

    def _decide(self, request, decision: str):
        obj = self.get_object()  # 404 for what you may not see, before anything about the body
        body = ActivationDecisionSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        try:
            obj = activation_decide(
                request_id=obj.pk, user=request.user, decision=decision, comment=body.validated_data["comment"]
            )
        except ActivationError as exc:
            answer = {exc.field: [str(exc)]} if exc.status == 400 else {"detail": str(exc)}
            return Response(answer, status=exc.status)
        except WorkflowInvalid as exc:
            return Response({"valid": False, "problems": [p.as_dict() for p in exc.problems]}, status=400)
        return Response(self.get_serializer(obj).data)

    @extend_schema(request=ActivationDecisionSerializer, responses=DECIDED)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """The reviewed version goes live (exactly it, even if the draft changed since)."""
        return self._decide(request, "approve")

    @extend_schema(request=ActivationDecisionSerializer, responses=DECIDED)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Refuse it, saying why (`comment` is required)."""
        return self._decide(request, "reject")

    @extend_schema(request=None, responses=DECIDED)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """The requester takes the request back."""
        return self._decide(request, "withdraw")
