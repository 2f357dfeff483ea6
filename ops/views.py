"""/health/ (open: says only ok or fail per check) and /metrics (a bearer token; 404 when none is set)."""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from faos.throttling import TOKEN_FAILURES, FailureThrottle, throttled_response

from . import health as checks
from .metrics import registry


@never_cache
@require_safe
def health(request):
    """200 when every check passes, else 503; `?check=database&check=migrations` asks only those."""
    names = [name for name in request.GET.getlist("check") if name in checks.CHECKS]
    report = checks.run_checks(names or None)
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@never_cache
@require_safe
def metrics(request):
    """Prometheus text format for a scraper that sends `Authorization: Bearer $FAOS_METRICS_TOKEN`."""
    token = settings.FAOS_METRICS_TOKEN
    if not token:
        raise Http404  # not switched on: as if it did not exist
    failures = FailureThrottle(TOKEN_FAILURES, request)  # wrong tokens count like wrong API tokens
    if failures.blocked():
        return throttled_response(failures.retry_after())
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        failures.record()
        return HttpResponse("A bearer token is required.\n", status=401, headers={"WWW-Authenticate": "Bearer"})
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)  # every Prometheus reads it
