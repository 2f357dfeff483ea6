"""The API and the webhooks answer with or without the trailing slash.

Django's APPEND_SLASH answers a path without its slash with a redirect, which a POST cannot follow (its body
is lost; with DEBUG on Django raises instead). Under /api/ the request is served at the slashed address
directly, for every method, when only that form exists. URL names, `reverse()` and the schema keep the slash.
"""

from __future__ import annotations

from django.urls import is_valid_path

API_PREFIX = "/api/"


class ApiOptionalSlashMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(API_PREFIX) and not path.endswith("/"):
            urlconf = getattr(request, "urlconf", None)
            if not is_valid_path(path, urlconf) and is_valid_path(f"{path}/", urlconf):
                request.path_info = f"{path}/"
                request.path = f"{request.path}/"
        return self.get_response(request)
