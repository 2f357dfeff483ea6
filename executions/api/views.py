"""API views for runs, approvals and events; thin callers of the services."""

import django_filters
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from faos.schema import FIELD_ERRORS, ErrorDetail
from workflows import authz
from workflows.api.permissions import Rules
from workflows.api.views import visible_workflows

from ..approvals import ApprovalError, approval_decide, approval_delegate, approvals_visible_to
from ..events import event_emit
from ..models import Approval, Execution, StepRun
from ..services import execution_cancel, execution_rerun, execution_retry
from .filters import UtcDateTimeFilter
from .serializers import (
    EMBEDDED_STEP_RUNS,
    ApprovalSerializer,
    DecisionSerializer,
    DelegateSerializer,
    EventSerializer,
    ExecutionDetailSerializer,
    ExecutionSerializer,
    StepRunSerializer,
)

# A decision's refusals: a field (400), who you are (403), or the approval's state (409, e.g. already decided).
DECIDED = {200: ApprovalSerializer, 409: ErrorDetail}


class ExecutionFilter(django_filters.FilterSet):
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Execution
        fields = ("workflow", "status", "trigger_kind", "is_test")


class StepRunFilter(django_filters.FilterSet):
    step = django_filters.CharFilter(field_name="step_key", help_text="The step's key.")
    scope = django_filters.CharFilter(help_text='Exactly this scope, e.g. "each[3]" (a loop\'s fourth item).')
    scope_prefix = django_filters.CharFilter(
        field_name="scope", lookup_expr="startswith", help_text='Scopes starting so, e.g. "each[" (every item).'
    )
    top_level = django_filters.BooleanFilter(
        method="filter_top_level", help_text="true: only the steps outside loops and parallel branches."
    )

    class Meta:
        model = StepRun
        fields = ("status", "step", "scope", "scope_prefix", "top_level")

    def filter_top_level(self, queryset, name, value):
        return queryset.filter(scope="") if value else queryset.exclude(scope="")


class StepRunPagination(PageNumberPagination):
    """Pages of a run's step runs; the first page is what the run's detail embeds."""

    page_size = EMBEDDED_STEP_RUNS
    page_size_query_param = "page_size"
    max_page_size = 500


class ExecutionViewSet(viewsets.ReadOnlyModelViewSet):
    """Runs of the workflows you can see; start one with POST /api/workflows/{id}/run/."""

    filterset_class = ExecutionFilter
    permission_classes = (Rules,)
    authz_model = "executions.execution"
    authz_actions = {"cancel": "run", "retry": "run", "rerun": "run", "steps": "view"}
    queryset = Execution.objects.none()  # typing for the schema; get_queryset scopes by user

    def get_queryset(self):
        workflows = visible_workflows(self.request.user).values("pk")
        return Execution.objects.filter(workflow__in=workflows).select_related("workflow", "version")

    def get_serializer_class(self):
        return ExecutionDetailSerializer if self.action == "retrieve" else ExecutionSerializer

    @extend_schema(
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The run's id.")],
        responses=StepRunSerializer(many=True),
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=StepRunSerializer,
        queryset=StepRun.objects.none(),  # for the schema: the filters are a step run's
        filterset_class=StepRunFilter,
        pagination_class=StepRunPagination,
    )
    def steps(self, request, pk=None):
        """Every step run of this run, in the order they started, paged (the detail embeds the first page)."""
        execution = get_object_or_404(self.get_queryset(), pk=pk)  # get_object would filter runs as step runs
        self.check_object_permissions(request, execution)
        step_runs = self.filter_queryset(StepRun.objects.filter(execution=execution).order_by("id"))
        page = self.paginate_queryset(step_runs)
        return self.get_paginated_response(StepRunSerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: ExecutionSerializer, 409: ErrorDetail})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        execution = self.get_object()
        if not execution_cancel(execution=execution, user=request.user):
            return Response({"detail": f"Run #{execution.pk} is already {execution.status}."}, status=409)
        execution.refresh_from_db()
        return Response(ExecutionSerializer(execution, context={"request": request}).data)

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("on_active_version", bool)],
        responses={202: ExecutionSerializer, 409: FIELD_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        on_active = request.query_params.get("on_active_version", "").lower() in ("1", "true", "yes")
        try:
            retry = execution_retry(execution=self.get_object(), user=request.user, on_active_version=on_active)
        except ValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_409_CONFLICT)
        return Response(ExecutionSerializer(retry, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: ExecutionSerializer})
    @action(detail=True, methods=["post"])
    def rerun(self, request, pk=None):
        again = execution_rerun(execution=self.get_object(), user=request.user)
        return Response(ExecutionSerializer(again, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class ApprovalViewSet(viewsets.ReadOnlyModelViewSet):
    """Approvals you may decide (404 for the others); approve or reject once."""

    serializer_class = ApprovalSerializer
    permission_classes = (Rules,)
    authz_model = "executions.approval"
    authz_actions = {"approve": ("view", "view"), "reject": ("view", "view"), "delegate": ("view", "view")}
    filterset_fields = ("status",)
    queryset = Approval.objects.none()  # typing for the schema; get_queryset scopes by user

    def get_queryset(self):
        return approvals_visible_to(self.request.user).prefetch_related("decisions__user").order_by("-created_at")

    def _decide(self, request, pk, decision):
        self.get_object()  # 404 for what you may not see, before anything about the body
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            approval = approval_decide(
                approval_id=pk, user=request.user, decision=decision, comment=serializer.validated_data["comment"]
            )
        except ApprovalError as exc:
            body = {exc.field: [str(exc)]} if exc.status == 400 else {"detail": str(exc)}
            return Response(body, status=exc.status)
        return Response(ApprovalSerializer(approval).data)

    @extend_schema(request=DecisionSerializer, responses=DECIDED)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(request, pk, "approve")

    @extend_schema(request=DecisionSerializer, responses=DECIDED)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, pk, "reject")

    @extend_schema(request=DelegateSerializer, responses=DECIDED)
    @action(detail=True, methods=["post"])
    def delegate(self, request, pk=None):
        self.get_object()  # 404 for what you may not see, before anything about the body
        serializer = DelegateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            approval = approval_delegate(
                approval_id=self.get_object().pk,  # 404 for a malformed or unknown id, as for approve/reject
                user=request.user,
                to_username=serializer.validated_data["to"],
            )
        except ApprovalError as exc:
            body = {exc.field: [str(exc)]} if exc.status == 400 else {"detail": str(exc)}
            return Response(body, status=exc.status)
        return Response(ApprovalSerializer(approval).data)


class EventViewSet(mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Emit an event: it resumes matching wait_for_event steps and starts event-triggered workflows."""

    serializer_class = EventSerializer
    permission_classes = (Rules,)
    authz_model = "executions.event"
    authz_actions = {"create": "emit"}

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event_type = serializer.validated_data["type"]
        if not authz.may_emit(request.user, event_type):
            raise PermissionDenied(f"'{event_type}' is one of the system's own event types; post your own types.")
        event = event_emit(
            type=event_type,
            data=serializer.validated_data.get("data") or {},
            source=f"api:{request.user.get_username()}",
            sender=request.user,
        )
        return Response(EventSerializer(event).data, status=status.HTTP_201_CREATED)
