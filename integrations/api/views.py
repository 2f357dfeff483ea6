"""API views: connections (credentials write-only, test), and the connector catalogue."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from workflows.api.permissions import Rules

from .. import connectors
from ..models import Connection
from ..services import connection_test
from .serializers import ConnectionSerializer, ConnectorSerializer

TestResult = inline_serializer(
    "ConnectionTestResult", {"ok": serializers.BooleanField(), "error": serializers.CharField()}
)


class ConnectionViewSet(viewsets.ModelViewSet):
    """Connections to services. `credentials` is write-only; `POST …/{id}/test/` calls the service's cheapest read."""

    serializer_class = ConnectionSerializer
    permission_classes = (Rules,)
    authz_model = "integrations.connection"
    authz_actions = {"test": "change"}
    queryset = Connection.objects.prefetch_related("allowed_groups").order_by("service", "name")
    filterset_fields = ("service", "status")

    @extend_schema(request=None, responses={200: TestResult})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        ok, error = connection_test(connection=self.get_object())
        return Response({"ok": ok, "error": error})


@extend_schema_view(
    list=extend_schema(responses=ConnectorSerializer(many=True)),
    retrieve=extend_schema(
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, description="e.g. stripe")],
        responses=ConnectorSerializer,
    ),
)
class ConnectorViewSet(viewsets.ViewSet):
    """Every connector: the credentials it asks for, OAuth sign-in, and its actions with their input schemas."""

    lookup_field = "name"
    serializer_class = ConnectorSerializer
    permission_classes = (Rules,)
    authz_model = "integrations.connector"

    def list(self, request):
        return Response(ConnectorSerializer(connectors.services(), many=True).data)

    def retrieve(self, request, name=None):
        service = connectors.get_service(name)
        if service is None:
            raise Http404
        return Response(ConnectorSerializer(service).data)
