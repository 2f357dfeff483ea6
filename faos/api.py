"""The REST API's URLs: one router, the webhook endpoint, and the OpenAPI schema and docs (no CDN)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from executions.api.slack import SlackInteractionsView
from executions.api.views import ApprovalViewSet, EventViewSet, ExecutionViewSet
from integrations.api.views import ConnectionViewSet, ConnectorViewSet
from replays.api.views import ReplayViewSet
from workflows.api.activations import ActivationRequestViewSet
from workflows.api.catalog import AgentViewSet, TemplateViewSet
from workflows.api.views import TriggerViewSet, WorkflowViewSet
from workflows.api.webhooks import WebhookView

router = DefaultRouter()
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("triggers", TriggerViewSet, basename="trigger")
router.register("executions", ExecutionViewSet, basename="execution")
router.register("approvals", ApprovalViewSet, basename="approval")
router.register("activations", ActivationRequestViewSet, basename="activation")
router.register("events", EventViewSet, basename="event")
router.register("templates", TemplateViewSet, basename="template")
router.register("agents", AgentViewSet, basename="agent")
router.register("connections", ConnectionViewSet, basename="connection")
router.register("connectors", ConnectorViewSet, basename="connector")
router.register("replays", ReplayViewSet, basename="replay")

urlpatterns = [
    path("hooks/<str:token>/", WebhookView.as_view(), name="webhook"),
    path("slack/interactions/", SlackInteractionsView.as_view(), name="slack-interactions"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("", include(router.urls)),
]
