"""Admin login lockout with django-axes: the backend that checks it and the answer a locked-out client gets."""

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off, get_lockout_message
from django.http import HttpResponse

from .throttling import throttled_response


class LoginLockoutBackend(AxesStandaloneBackend):
    """Refuses logins from a locked-out username and address before any password is checked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        # Every login over HTTP passes its request (admin form, DRF); a call without one (the test
        # client's login(), a shell) has no client to count, so the model backend alone decides.
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def login_lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """429 with Retry-After for the cool-off; JSON when the client asks for JSON."""
    cool_off = get_cool_off(request)
    seconds = max(1, int(cool_off.total_seconds())) if cool_off else 3600
    if "json" in request.headers.get("Accept", ""):
        return throttled_response(seconds, get_lockout_message())
    response = HttpResponse(get_lockout_message(), status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response
