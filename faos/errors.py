"""Error pages: under /api/ they are JSON in DRF's shape, so an API client never has to read HTML."""

from django.http import JsonResponse
from django.views import defaults


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """404 for an address no route matches (e.g. /api/approvals/0.5/approve/)."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    """500 as JSON under /api/; the traceback goes to the log as usual, never to the client."""
    if _is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)
