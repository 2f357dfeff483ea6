"""API views for workflows: CRUD on the nested definition, lifecycle, versions, export/import, runs."""

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from executions.api.serializers import ExecutionSerializer
from executions.services import execution_start, test_run_options

from .. import io
from ..audit import audit
from ..diff import version_diff
from ..models import Trigger, Workflow
from ..services import (
    WorkflowInvalid,
    workflow_activate,
    workflow_duplicate,
    workflow_import,
    workflow_set_status,
    workflow_snapshot,
    workflow_validate,
)
from ..triggers import trigger_sync
from .serializers import ProblemSerializer, TriggerSerializer, VersionSerializer, WorkflowSerializer

RunInput = inline_serializer(
    "RunInput",
    {
        "input": serializers.JSONField(help_text="The trigger data: a JSON object."),
        "test": serializers.BooleanField(default=False, help_text="Run the draft with side effects recorded."),
        "fast_forward": serializers.BooleanField(
            default=False, help_text="Test runs: waits, rate limits and retry back-offs end at once."
        ),
        "send_reads": serializers.BooleanField(
            default=False, help_text="Test runs: send read-only calls to connected services (writes stay recorded)."
        ),
    },
)


def visible_workflows(user):
    """Everything for users with the view permission (editors, viewers); otherwise what they own."""
    qs = Workflow.objects.select_related("owner", "active_version").prefetch_related("steps", "triggers")
    return qs if user.has_perm("workflows.view_workflow") else qs.filter(Q(owner=user))


def problems_response(problems, code=status.HTTP_400_BAD_REQUEST):
    return Response({"valid": False, "problems": [p.as_dict() for p in problems]}, status=code)


class WorkflowViewSet(viewsets.ModelViewSet):
    """Workflows with their steps and triggers as one definition. Editing changes the draft only."""

    serializer_class = WorkflowSerializer
    filterset_fields = ("status",)
    queryset = Workflow.objects.none()  # typing for the schema; get_queryset scopes by user
    search_fields = ("name",)

    def get_queryset(self):
        return visible_workflows(self.request.user).order_by("name", "id")

    def perform_create(self, serializer):
        audit(user=self.request.user, obj=serializer.save(owner=self.request.user), action="add")

    def perform_update(self, serializer):
        changed = ", ".join(sorted(self.request.data)) if isinstance(self.request.data, dict) else "definition"
        audit(
            user=self.request.user,
            obj=serializer.save(),
            action="change",
            message=f"Changed {changed} through the API.",
        )

    def perform_destroy(self, instance):
        audit(user=self.request.user, obj=instance, action="delete")
        instance.delete()

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "Validation", {"valid": serializers.BooleanField(), "problems": ProblemSerializer(many=True)}
        ),
    )
    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        problems = workflow_validate(workflow=self.get_object())
        return (
            problems_response(problems, status.HTTP_200_OK) if problems else Response({"valid": True, "problems": []})
        )

    @extend_schema(request=None, responses=VersionSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Validate the draft and make it the active version; `?version=N` rolls back to version N."""
        workflow = self.get_object()
        number = request.query_params.get("version")
        version = get_object_or_404(workflow.versions, number=number) if number else None
        try:
            version = workflow_activate(workflow=workflow, user=request.user, version=version)
        except WorkflowInvalid as exc:
            return problems_response(exc.problems)
        return Response(VersionSerializer(version).data)

    @extend_schema(request=None, responses=WorkflowSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        workflow = workflow_set_status(workflow=self.get_object(), status=Workflow.Status.PAUSED)
        return Response(self.get_serializer(workflow).data)

    @extend_schema(request=None, responses={201: WorkflowSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request, pk=None):
        copy = workflow_duplicate(workflow=self.get_object(), owner=request.user)
        return Response(self.get_serializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("file_format", enum=["yaml", "json"])], responses={200: str})
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        fmt = request.query_params.get("file_format", "yaml")
        text = io.dump(io.workflow_export(workflow=self.get_object()), fmt)
        content_type = "application/json" if fmt == "json" else "application/yaml"
        return HttpResponse(text, content_type=f"{content_type}; charset=utf-8")

    @extend_schema(request={"application/yaml": str, "application/json": dict}, responses={201: WorkflowSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request):
        """Create a draft workflow from a YAML or JSON definition file (the export format)."""
        try:
            workflow = workflow_import(definition=io.parse(request.body), owner=request.user)
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(workflow).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=VersionSerializer(many=True), request=None)
    @action(detail=True, methods=["get", "post"])
    def versions(self, request, pk=None):
        """GET lists versions; POST freezes the current draft as a new version (without activating it)."""
        workflow = self.get_object()
        if request.method == "POST":
            problems = workflow_validate(workflow=workflow)
            if problems:
                return problems_response(problems)
            version = workflow_snapshot(workflow=workflow, user=request.user, note=request.data.get("note", ""))
            return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)
        versions = workflow.versions.select_related("workflow", "created_by").order_by("-number")
        return Response(VersionSerializer(versions, many=True).data)

    @extend_schema(parameters=[OpenApiParameter("from", int), OpenApiParameter("to", int)], responses=dict)
    @action(detail=True, methods=["get"])
    def diff(self, request, pk=None):
        workflow = self.get_object()
        older = get_object_or_404(workflow.versions, number=request.query_params.get("from"))
        newer = get_object_or_404(workflow.versions, number=request.query_params.get("to"))
        return Response(version_diff(older.definition, newer.definition))

    @extend_schema(request=RunInput, responses={202: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        """Start a run (manual trigger); `test: true` runs the draft with side effects recorded."""
        workflow = self.get_object()
        payload = request.data.get("input", {}) if isinstance(request.data, dict) else None
        try:
            execution = execution_start(
                workflow=workflow,
                input=payload,
                user=request.user,
                trigger_kind="api",
                is_test=bool(request.data.get("test")),
                source=f"api:{request.user}",
                trigger_meta=test_run_options(is_test=bool(request.data.get("test")), options=request.data),
            )
        except WorkflowInvalid as exc:
            return problems_response(exc.problems)
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            ExecutionSerializer(execution, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


class TriggerViewSet(viewsets.ModelViewSet):
    """Triggers of the workflows you can see; kind-specific config is validated, schedules sync to Beat."""

    serializer_class = TriggerSerializer
    queryset = Trigger.objects.none()  # typing for the schema; get_queryset scopes by user
    filterset_fields = ("workflow", "kind", "is_enabled")

    def get_queryset(self):
        return Trigger.objects.filter(workflow__in=visible_workflows(self.request.user).values("pk")).select_related(
            "workflow"
        )

    def perform_create(self, serializer):
        workflow = get_object_or_404(visible_workflows(self.request.user), pk=self.request.data.get("workflow"))
        trigger = trigger_sync(trigger=serializer.save(workflow=workflow))
        audit(
            user=self.request.user,
            obj=workflow,
            action="change",
            message=f"Added {trigger.kind} trigger through the API.",
        )

    def perform_update(self, serializer):
        trigger = trigger_sync(trigger=serializer.save())
        audit(
            user=self.request.user,
            obj=trigger.workflow,
            action="change",
            message=f"Changed {trigger.kind} trigger {trigger.pk} through the API.",
        )
