"""Shared fixtures. Outside tests/e2e, Celery tasks run eagerly in the test process."""

import pytest

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


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
