"""API views for workflows: CRUD on the nested definition, lifecycle, versions, export/import, runs."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from executions.api.serializers import ExecutionSerializer
from executions.services import execution_start, test_run_options
from faos.schema import ErrorDetail
from replays.api.serializers import ReplaySerializer, SelectionSerializer
from replays.api.views import workflow_replays

from .. import authz, io
from ..activation import activation_start
from ..audit import audit
from ..diff import version_diff
from ..models import ActivationRequest, Trigger, Workflow
from ..services import (
    WorkflowBusy,
    WorkflowInvalid,
    definition_deprecations,
    workflow_delete,
    workflow_deprecations,
    workflow_duplicate,
    workflow_import,
    workflow_set_status,
    workflow_snapshot,
    workflow_validate,
)
from ..triggers import trigger_sync
from .activations import ActivationRequestSerializer
from .permissions import Rules
from .serializers import (
    ProblemSerializer,
    TriggerSerializer,
    VersionNoteSerializer,
    VersionSerializer,
    WorkflowSerializer,
)

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
    """The workflows this user may see (workflows.authz): all with the view right, else their own."""
    return authz.visible(user, Workflow).select_related("owner", "active_version").prefetch_related("steps", "triggers")


def problems_response(problems, code=status.HTTP_400_BAD_REQUEST):
    return Response({"valid": False, "problems": [p.as_dict() for p in problems]}, status=code)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is in use."
    default_code = "conflict"


def query_number(request, name: str, *, required: bool = True) -> int | None:
    """A query parameter that must be a positive integer (a version number); a 400 naming it otherwise."""
    raw = request.query_params.get(name)
    if not raw and not required:
        return None
    try:
        return serializers.IntegerField(min_value=1, max_value=2**31 - 1).run_validation(
            serializers.empty if raw is None else raw
        )
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({name: exc.detail})


@extend_schema_view(destroy=extend_schema(responses={204: None, 409: ErrorDetail}))
class WorkflowViewSet(viewsets.ModelViewSet):
    """Workflows with their steps and triggers as one definition. Editing changes the draft only."""

    serializer_class = WorkflowSerializer
    permission_classes = (Rules,)
    authz_model = "workflows.workflow"
    authz_actions = {
        "validate": "view",
        "activate": "activate",
        "deactivate": "activate",
        "duplicate": ("add", "view"),
        "export": "view",
        "import_": "add",
        "versions": {"GET": "view", "POST": "change"},
        "diff": "view",
        "run": "run",
        "replays": {"GET": "view", "POST": "replay"},
    }
    filterset_fields = ("status",)
    queryset = Workflow.objects.none()  # typing for the schema; get_queryset scopes by user
    search_fields = ("name",)

    def get_queryset(self):
        return visible_workflows(self.request.user).order_by("name", "id")

    def perform_create(self, serializer):
        audit(user=self.request.user, obj=serializer.save(owner=self.request.user), action="add")

    def perform_update(self, serializer):
        # The fields that were accepted, not the raw keys: those may hold anything (even a NUL byte).
        changed = ", ".join(sorted(serializer.validated_data)) or "nothing"
        audit(
            user=self.request.user,
            obj=serializer.save(),
            action="change",
            message=f"Changed {changed} through the API.",
        )

    def perform_destroy(self, instance):
        """An active workflow, or one with runs in progress, is refused (409) instead of half-deleted."""
        try:
            with transaction.atomic():
                audit(user=self.request.user, obj=instance, action="delete")
                workflow_delete(workflow=instance)
        except WorkflowBusy as exc:
            raise Conflict(str(exc))

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "Validation",
            {
                "valid": serializers.BooleanField(),
                "problems": ProblemSerializer(many=True),
                "warnings": serializers.ListField(
                    child=serializers.CharField(), help_text="Deprecation notes: old spellings the draft still uses."
                ),
            },
        ),
    )
    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        workflow = self.get_object()
        problems = workflow_validate(workflow=workflow)
        answer = {"valid": not problems, "problems": [p.as_dict() for p in problems]}
        return Response({**answer, "warnings": workflow_deprecations(workflow=workflow)})

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("version", int, description="Roll back to this version number.")],
        responses={200: VersionSerializer, 202: ActivationRequestSerializer},
    )
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Validate the draft and make it the active version; `?version=N` rolls back to version N.

        A workflow that needs a second editor (its `activation_review`, or a money/sensitive connection) does not
        go live: the answer is 202 with the activation request, decided under /api/activations/.
        """
        workflow = self.get_object()
        number = query_number(request, "version", required=False)
        version = get_object_or_404(workflow.versions, number=number) if number else None
        try:
            outcome = activation_start(workflow=workflow, user=request.user, version=version)
        except WorkflowInvalid as exc:
            return problems_response(exc.problems)
        if isinstance(outcome, ActivationRequest):
            answer = ActivationRequestSerializer(outcome, context=self.get_serializer_context()).data
            return Response(answer, status=status.HTTP_202_ACCEPTED)
        return Response(VersionSerializer(outcome).data)

    @extend_schema(request=None, responses=WorkflowSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        workflow = workflow_set_status(workflow=self.get_object(), status=Workflow.Status.PAUSED, user=request.user)
        return Response(self.get_serializer(workflow).data)

    @extend_schema(request=None, responses={201: WorkflowSerializer})
    @action(detail=True, methods=["post"])
    def duplicate(self, request, pk=None):
        copy = workflow_duplicate(workflow=self.get_object(), owner=request.user)
        return Response(self.get_serializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("file_format", enum=["yaml", "json"], default="yaml")],
        # The same document (the import format) as YAML or as JSON.
        responses={(200, "application/yaml"): OpenApiTypes.OBJECT, (200, "application/json"): OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        fmt = request.query_params.get("file_format", "yaml")
        if fmt not in ("yaml", "json"):
            raise serializers.ValidationError({"file_format": [f"'{fmt[:40]}' is not yaml or json."]})
        text = io.dump(io.workflow_export(workflow=self.get_object()), fmt)
        content_type = "application/json" if fmt == "json" else "application/yaml"
        return HttpResponse(text, content_type=f"{content_type}; charset=utf-8")

    @extend_schema(request={"application/yaml": str, "application/json": dict}, responses={201: WorkflowSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_(self, request):
        """Create a draft workflow from a YAML or JSON definition file (the export format)."""
        try:
            request.body.decode()
        except UnicodeDecodeError:
            return Response({"definition": ["The file must be UTF-8 text."]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            definition = io.parse(request.body)
            workflow = workflow_import(definition=definition, owner=request.user)
        except io.DefinitionTooLarge as exc:
            return Response(exc.message_dict, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)
        workflow.deprecations = definition_deprecations(definition=definition)  # the answer's `warnings`
        return Response(self.get_serializer(workflow).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses=VersionSerializer(many=True))
    @extend_schema(methods=["POST"], request=VersionNoteSerializer, responses={201: VersionSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def versions(self, request, pk=None):
        """GET lists versions; POST freezes the current draft as a new version (without activating it)."""
        workflow = self.get_object()
        if request.method == "POST":
            note = VersionNoteSerializer(data=request.data)
            note.is_valid(raise_exception=True)
            problems = workflow_validate(workflow=workflow)
            if problems:
                return problems_response(problems)
            version = workflow_snapshot(workflow=workflow, user=request.user, note=note.validated_data["note"])
            return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)
        versions = workflow.versions.select_related("workflow", "created_by").order_by("-number")
        return Response(VersionSerializer(versions, many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("from", int, required=True), OpenApiParameter("to", int, required=True)],
        responses=OpenApiTypes.OBJECT,
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, pk=None):
        workflow = self.get_object()
        older = get_object_or_404(workflow.versions, number=query_number(request, "from"))
        newer = get_object_or_404(workflow.versions, number=query_number(request, "to"))
        return Response(version_diff(older.definition, newer.definition))

    @extend_schema(request=RunInput, responses={202: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        """Start a run (manual trigger); `test: true` runs the draft with side effects recorded."""
        workflow = self.get_object()
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"non_field_errors": ['Send a JSON object, e.g. {"input": {}}.']})
        payload = request.data.get("input", {})
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

    @extend_schema(methods=["GET"], request=None, responses=ReplaySerializer(many=True))
    @extend_schema(methods=["POST"], request=SelectionSerializer, responses={202: ReplaySerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def replays(self, request, pk=None):
        """POST replays past runs (the last N, by status, date or trigger, failed ones, or by id) through the draft
        as test runs and compares each with what happened; GET lists the workflow's replays."""
        return workflow_replays(request, self.get_object())


class TriggerViewSet(viewsets.ModelViewSet):
    """Triggers of the workflows you can see; kind-specific config is validated, schedules sync to Beat."""

    serializer_class = TriggerSerializer
    permission_classes = (Rules,)
    authz_model = "workflows.trigger"
    queryset = Trigger.objects.none()  # typing for the schema; get_queryset scopes by user
    filterset_fields = ("workflow", "kind", "is_enabled")

    def get_queryset(self):
        return Trigger.objects.filter(workflow__in=visible_workflows(self.request.user).values("pk")).select_related(
            "workflow"
        )

    def perform_create(self, serializer):
        workflow = get_object_or_404(visible_workflows(self.request.user), pk=self.request.data.get("workflow"))
        authz.require(self.request.user, "change", workflow)
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
