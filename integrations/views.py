"""The OAuth2 callback: providers send the user back here with a code to exchange for tokens."""

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from executions.engine.errors import StepError
from workflows import authz

from .oauth import connection_from_state, oauth_complete


def callback_uri() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("oauth-callback")


@require_GET
@staff_member_required
def oauth_callback(request):
    """Check the signed state, exchange the code, and go back to the connection."""
    if request.GET.get("error"):
        messages.error(request, f"The provider refused: {request.GET['error']}")
        return redirect("admin:integrations_connection_changelist")
    try:
        connection = connection_from_state(request.GET.get("state", ""), user=request.user)
        authz.require(request.user, "change", connection)
        oauth_complete(connection=connection, code=request.GET.get("code", ""), redirect_uri=callback_uri())
    except (ValueError, StepError, authz.Refused) as exc:
        messages.error(request, str(exc))
        return redirect("admin:integrations_connection_changelist")
    messages.success(request, f"{connection}: signed in; tokens stored encrypted.")
    return redirect("admin:integrations_connection_change", connection.pk)
