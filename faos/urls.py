"""Top-level URLs: the admin is the product's main UI; the API lives under /api/."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from executions.admin.dashboard import dashboard_view
from executions.views import decision_link_view
from integrations.views import oauth_callback
from ops.views import health, metrics

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="faos-dashboard"),
    path("admin/", admin.site.urls),
    path("api/", include(("faos.api", "api"), namespace="api")),
    path("integrations/oauth/callback/", oauth_callback, name="oauth-callback"),
    path("decide/<str:token>/", decision_link_view, name="decision-link"),  # e-mail links (no login, signed)
    path("health/", health, name="faos-health"),
    path("metrics", metrics, name="faos-metrics"),  # Prometheus' default path, no slash
]
handler404 = "faos.errors.not_found"
handler500 = "faos.errors.server_error"
