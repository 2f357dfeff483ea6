"""Connector tests: a local fake vendor server, a connection pointed at it, and a helper to run one action."""

import pytest

from integrations.actions import ActionContext, run_action
from integrations.models import Connection
from integrations.services import connection_credentials
from tests.fakes import FakeServer


@pytest.fixture
def vendor(settings):
    settings.FAOS_HTTP_ALLOW_HOSTS = ["127.0.0.1"]
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def connect(vendor):
    """Create a connection for a service whose base URL is the fake vendor server."""

    def make(service: str, **credentials) -> Connection:
        return Connection.objects.create(
            service=service, name="default", credentials={"base_url": vendor.url, **credentials}
        )

    return make


def call(action: str, inputs: dict, *, test_mode: bool = False, key: str = "faos-1-step-1"):
    """Run one action the way a step does (schema check, credentials lookup, idempotency key)."""
    ctx = ActionContext(
        idempotency_key=key,
        timeout=5,
        test_mode=test_mode,
        step_key="step",
        execution_id=1,
        credentials=lambda service, name: connection_credentials(service=service, name=name, test_mode=test_mode),
    )
    return run_action(action, inputs, ctx)
