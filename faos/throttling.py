"""Throttles: API request rates and failed credentials per client address (the login lockout is in lockout.py).

Counters live in Django's default cache (settings CACHES, faos/cache.py), which all web processes share when it
is Redis; with local memory (`make run`) each process counts alone.
"""

from __future__ import annotations

import math

from django.http import HttpResponse, JsonResponse
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, SimpleRateThrottle, UserRateThrottle

TOKEN_FAILURES = "token_failures"
SIGNATURE_FAILURES = "webhook_signature_failures"


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or X-Forwarded-For counted back over REST_FRAMEWORK's NUM_PROXIES."""
    # NUM_PROXIES must be set (0 without a proxy): left None, DRF would take a forged X-Forwarded-For whole.
    return BaseThrottle().get_ident(request)


def _rate(scope: str) -> str | None:
    # DRF binds THROTTLE_RATES when its module is imported; reading them per request lets settings change them.
    return api_settings.DEFAULT_THROTTLE_RATES.get(scope)


class AnonThrottle(AnonRateThrottle):
    """Requests per client address without a login (REST_FRAMEWORK's "anon" rate)."""

    def get_rate(self):
        return _rate(self.scope)


class UserThrottle(UserRateThrottle):
    """Requests per logged-in user (REST_FRAMEWORK's "user" rate)."""

    def get_rate(self):
        return _rate(self.scope)


class FailureThrottle(SimpleRateThrottle):
    """Failed credentials per client address in a sliding window; over the rate, refuse before checking again."""

    def __init__(self, scope: str, request):
        self.scope = scope
        self.request = request
        super().__init__()

    def get_rate(self):
        return _rate(self.scope)

    def get_cache_key(self, request=None, view=None):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request or self.request)}

    def blocked(self) -> bool:
        """True once this address has used up its failures; `wait()` then says for how long."""
        if self.rate is None:
            return False
        self.key = self.get_cache_key()
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        return len(self.history) >= self.num_requests

    def record(self) -> None:
        """Count one failure."""
        if self.rate is None:
            return
        self.blocked()
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)

    def retry_after(self) -> int:
        return max(1, math.ceil(self.wait() or 1))


class ThrottledTokenAuthentication(TokenAuthentication):
    """Token authentication that counts wrong tokens per client address and refuses a guesser with 429."""

    def authenticate(self, request):
        self.failures = FailureThrottle(TOKEN_FAILURES, request)
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            self.failures.record()
            raise

    def authenticate_credentials(self, key):
        # Only requests that present a token are held back; a browser session from the same address is not.
        if self.failures.blocked():
            raise Throttled(wait=self.failures.retry_after())
        return super().authenticate_credentials(key)


def throttled_response(retry_after: int, message: str = "Too many failed attempts; try again later.") -> HttpResponse:
    """A 429 JSON answer with Retry-After, for views outside DRF's exception handling."""
    response = JsonResponse({"detail": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
