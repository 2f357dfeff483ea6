"""/health/ beside a real worker with embedded Beat: 200 while it runs, 503 once Beat stops sweeping."""

import time

import pytest

from ops import health
from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def probe(client) -> tuple[int, dict]:
    health.forget()  # ask the workers afresh every time
    response = client.get("/health/")
    return response.status_code, response.json()["checks"]


def test_health_is_200_when_everything_is_up_and_503_once_beat_stops(client, settings, start_worker):
    settings.CELERY_BEAT_SCHEDULE = {
        "faos-sweep": {"task": "executions.tasks.sweep", "schedule": 1.0}
    }  # as the worker's
    worker = start_worker()
    status, checks = wait_for(lambda: (got := probe(client))[0] == 200 and got, timeout=60, message="a healthy answer")
    assert all(check["ok"] for check in checks.values()), checks
    assert checks["database"]["ms"] < 100 and checks["workers"]["ms"] < 1000
    worker.stop()
    stopped = time.monotonic()
    status, checks = wait_for(lambda: (got := probe(client))[0] == 503 and not got[1]["beat"]["ok"] and got, timeout=30)
    assert time.monotonic() - stopped <= 10  # three sweep intervals of 1 s after the last sweep
    assert checks["beat"]["detail"].startswith("last sweep") and checks["database"]["ok"] and checks["broker"]["ok"]
