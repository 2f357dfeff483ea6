"""API for agents and the template library: agents are CRUD with their allowed actions checked; templates list,
show and are used (a new draft workflow from the template)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from executions.engine.kinds.agent import AGENT_ACTIONS
from integrations.actions import get as get_action
from integrations.agents import connection_problem

from ..library import template_use
from ..models import Agent, WorkflowTemplate
from .permissions import Rules
from .serializers import WorkflowSerializer


class AgentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agent
        fields = (
            "id",
            "name",
            "role",
            "instructions",
            "provider",
            "model",
            "temperature",
            "max_tokens",
            "allowed_actions",
            "connection",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("created_at", "updated_at")

    def validate_allowed_actions(self, value):
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            raise serializers.ValidationError('a list of action names, e.g. ["classify", "send_email"]')
        unknown = [a for a in value if a not in AGENT_ACTIONS and get_action(a) is None]
        if unknown:
            raise serializers.ValidationError(f"unknown action(s): {', '.join(unknown)}")
        return value

    def validate(self, attrs):
        """The connection must hold the provider's key (OpenAI, OpenAI-compatible or Anthropic connection)."""
        provider = attrs.get("provider", getattr(self.instance, "provider", Agent.Provider.OFFLINE))
        connection = attrs["connection"] if "connection" in attrs else getattr(self.instance, "connection", None)
        problem = connection_problem(provider, connection)
        if problem:
            raise serializers.ValidationError({"connection": problem})
        return attrs


class AgentViewSet(viewsets.ModelViewSet):
    """Agents steps delegate to: role, instructions, provider and model, and the actions each may use."""

    serializer_class = AgentSerializer
    permission_classes = (Rules,)
    authz_model = "workflows.agent"
    queryset = Agent.objects.select_related("connection").order_by("name")
    filterset_fields = ("provider",)


class TemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkflowTemplate
        fields = ("slug", "name", "category", "description", "use_when", "claim", "needs", "trigger_summary")


class TemplateDetailSerializer(TemplateSerializer):
    class Meta(TemplateSerializer.Meta):
        fields = (*TemplateSerializer.Meta.fields, "definition")


class TemplateViewSet(viewsets.ReadOnlyModelViewSet):
    """The product guide's templates; `POST …/{slug}/use/` creates a draft workflow from one."""

    queryset = WorkflowTemplate.objects.order_by("category", "name")
    permission_classes = (Rules,)
    authz_model = "workflows.workflowtemplate"
    authz_actions = {"use": "use"}
    lookup_field = "slug"
    filterset_fields = ("category",)

    def get_serializer_class(self):
        return TemplateDetailSerializer if self.action == "retrieve" else TemplateSerializer

    @extend_schema(request=None, responses={201: WorkflowSerializer})
    @action(detail=True, methods=["post"])
    def use(self, request, slug=None):
        workflow = template_use(template=self.get_object(), owner=request.user)
        return Response(WorkflowSerializer(workflow, context={"request": request}).data, status=status.HTTP_201_CREATED)
