"""Shared fixtures. Outside tests/e2e, Celery tasks run eagerly in the test process."""

import pytest
from django.core.cache import cache

from faos.celery import app


@pytest.fixture(autouse=True)
def eager_celery(request):
    """Run tasks inline unless the test drives a real worker (marked e2e)."""
    eager = request.node.get_closest_marker("e2e") is None
    previous = app.conf.task_always_eager
    # The app reads Django settings with the CELERY_ namespace, so set the namespaced key.
    app.conf.CELERY_TASK_ALWAYS_EAGER = eager
    yield
    app.conf.CELERY_TASK_ALWAYS_EAGER = previous


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle and rate counters live in the cache: each test starts with none, so no test is throttled by another."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def throttle_rates(settings):
    """Set some of REST_FRAMEWORK's throttle rates for one test, e.g. throttle_rates(anon="1/minute")."""

    def set_rates(**rates):
        framework = settings.REST_FRAMEWORK
        merged = {**framework.get("DEFAULT_THROTTLE_RATES", {}), **rates}
        settings.REST_FRAMEWORK = {**framework, "DEFAULT_THROTTLE_RATES": merged}

    return set_rates


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
