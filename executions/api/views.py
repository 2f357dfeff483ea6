"""API views for runs, approvals and events; thin callers of the services."""

import django_filters
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from workflows.api.views import visible_workflows

from ..approvals import ApprovalError, approval_decide, approval_delegate, approvals_visible_to
from ..events import event_emit
from ..models import Approval, Execution
from ..services import execution_cancel, execution_rerun, execution_retry
from .serializers import (
    ApprovalSerializer,
    DecisionSerializer,
    DelegateSerializer,
    EventSerializer,
    ExecutionDetailSerializer,
    ExecutionSerializer,
)


class ExecutionFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Execution
        fields = ("workflow", "status", "trigger_kind", "is_test")


class ExecutionViewSet(viewsets.ReadOnlyModelViewSet):
    """Runs of the workflows you can see; start one with POST /api/workflows/{id}/run/."""

    filterset_class = ExecutionFilter
    queryset = Execution.objects.none()  # typing for the schema; get_queryset scopes by user

    def get_queryset(self):
        workflows = visible_workflows(self.request.user).values("pk")
        qs = Execution.objects.filter(workflow__in=workflows).select_related("workflow", "version")
        return qs.prefetch_related("step_runs") if self.action == "retrieve" else qs

    def get_serializer_class(self):
        return ExecutionDetailSerializer if self.action == "retrieve" else ExecutionSerializer

    @extend_schema(request=None, responses=ExecutionSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        execution = self.get_object()
        if not execution_cancel(execution=execution):
            return Response({"detail": f"Run #{execution.pk} is already {execution.status}."}, status=409)
        execution.refresh_from_db()
        return Response(ExecutionSerializer(execution, context={"request": request}).data)

    @extend_schema(
        request=None, parameters=[OpenApiParameter("on_active_version", bool)], responses={202: ExecutionSerializer}
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
    filterset_fields = ("status",)
    queryset = Approval.objects.none()  # typing for the schema; get_queryset scopes by user

    def get_queryset(self):
        return approvals_visible_to(self.request.user).prefetch_related("decisions__user").order_by("-created_at")

    def _decide(self, request, pk, decision):
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.get_object()  # 404 for what you may not see
        try:
            approval = approval_decide(
                approval_id=pk, user=request.user, decision=decision, comment=serializer.validated_data["comment"]
            )
        except ApprovalError as exc:
            body = {exc.field: [str(exc)]} if exc.status == 400 else {"detail": str(exc)}
            return Response(body, status=exc.status)
        return Response(ApprovalSerializer(approval).data)

    @extend_schema(request=DecisionSerializer, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(request, pk, "approve")

    @extend_schema(request=DecisionSerializer, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, pk, "reject")

    @extend_schema(request=DelegateSerializer, responses=ApprovalSerializer)
    @action(detail=True, methods=["post"])
    def delegate(self, request, pk=None):
        serializer = DelegateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            approval = approval_delegate(approval_id=pk, user=request.user, to_username=serializer.validated_data["to"])
        except ApprovalError as exc:
            body = {exc.field: [str(exc)]} if exc.status == 400 else {"detail": str(exc)}
            return Response(body, status=exc.status)
        return Response(ApprovalSerializer(approval).data)


class EventViewSet(mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Emit an event: it resumes matching wait_for_event steps and starts event-triggered workflows."""

    serializer_class = EventSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = event_emit(
            type=serializer.validated_data["type"],
            data=serializer.validated_data.get("data") or {},
            source=f"api:{request.user.get_username()}",
        )
        return Response(EventSerializer(event).data, status=status.HTTP_201_CREATED)
