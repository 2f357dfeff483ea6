"""/health/ and `manage.py health`: each check on the real database and Redis broker, 200 or 503."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import django
import pytest
from django.core.management import call_command
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from faos.celery import app
from ops import health
from ops.models import heartbeat

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_memo():
    """The workers' answer and the migrations are remembered per process: each test asks afresh."""
    health.forget()
    yield
    health.forget()


def test_health_reports_every_check_with_its_time_and_no_secrets(client, settings):
    response = client.get("/health/")
    body = response.json()
    assert set(body["checks"]) == {"database", "broker", "beat", "workers", "migrations"}
    assert all(isinstance(c["ok"], bool) and c["ms"] >= 0 for c in body["checks"].values())
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"] and body["checks"]["migrations"]["ok"]
    assert response["Cache-Control"].startswith("max-age=0")
    text = response.content.decode()
    # Django's full version ("5.2.9"): "5.2" alone was also a check's time now and then ("ms": 25.2)
    assert settings.CELERY_BROKER_URL not in text and django.get_version() not in text
    assert "version" not in text.lower()


def test_health_turns_503_when_beat_has_not_swept_for_three_intervals(client):
    heartbeat(health.SWEEP)
    fresh = client.get("/health/?check=beat")
    assert fresh.status_code == 200 and fresh.json()["checks"]["beat"]["ok"] is True
    heartbeat(health.SWEEP, at=timezone.now() - timedelta(seconds=3 * health.sweep_interval() + 1))
    stale = client.get("/health/?check=beat&check=database")
    assert stale.status_code == 503 and stale.json()["status"] == "fail"
    assert stale.json()["checks"]["beat"] == {
        "ok": False,
        "ms": stale.json()["checks"]["beat"]["ms"],
        "detail": f"last sweep {3 * health.sweep_interval() + 1:.0f} s ago",
    }
    assert stale.json()["checks"]["database"]["ok"] is True


def test_health_fails_before_the_sweep_ever_ran(client):
    response = client.get("/health/?check=beat")
    assert response.status_code == 503 and response.json()["checks"]["beat"]["detail"] == "the sweep has never run"


def test_the_sweep_task_records_the_heartbeat():
    from executions.tasks import sweep

    sweep()
    assert health.check_beat()[0] is True


def test_health_turns_503_when_no_worker_answers_and_remembers_it_briefly(client, settings):
    settings.FAOS_HEALTH_TIMEOUT = 0.3
    response = client.get("/health/?check=workers")  # no worker listens on this test broker
    assert response.status_code == 503 and response.json()["checks"]["workers"]["detail"] == "no worker answered"
    again = client.get("/health/?check=workers")
    assert again.json()["checks"]["workers"]["ms"] < 50  # the answer was remembered, not asked again


def test_a_broker_that_is_down_fails_the_check_without_revealing_its_url(client, monkeypatch, settings):
    settings.FAOS_HEALTH_TIMEOUT = 0.5
    for key in ("broker_url", "broker_write_url"):
        monkeypatch.setattr(app.conf, key, "redis://:hunter2-secret@127.0.0.1:1/0")
    response = client.get("/health/?check=broker")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["detail"] == "unreachable" and "hunter2" not in response.content.decode()


def test_health_fails_while_a_migration_is_not_applied(client):
    MigrationRecorder.Migration.objects.filter(app="ops").delete()  # rolled back with the test
    response = client.get("/health/?check=migrations")
    assert (
        response.status_code == 503
        and response.json()["checks"]["migrations"]["detail"] == "1 migration(s) not applied"
    )


def test_health_command_exits_0_when_its_checks_pass(capsys):
    call_command("health", "database", "broker", "migrations")
    out = capsys.readouterr().out
    assert out.count("ok  ") == 3 and "FAIL" not in out


def test_health_command_exits_1_when_a_check_fails(capsys):
    with pytest.raises(SystemExit) as exited:
        call_command("health", "beat", "--json")
    assert exited.value.code == 1 and '"status": "fail"' in capsys.readouterr().out


def test_health_command_exits_1_when_the_database_is_down():
    env = {**os.environ, "DATABASE_URL": "postgres://postgres@127.0.0.1:1/faos", "FAOS_DB_POOL": "false"}
    done = subprocess.run(
        [sys.executable, "manage.py", "health", "database"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("FAIL database") and "unreachable" in done.stdout
