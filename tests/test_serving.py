"""Production serving: gunicorn from Procfile.prod with DEBUG off, static files by whitenoise, the process files.

The end-to-end test collects static files into a temporary STATIC_ROOT, starts the web line of Procfile.prod
against the test database and the broker, and talks to it the way a TLS-terminating proxy would.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token

from bench.workers import free_port
from tests.e2e.conftest import database_url

ROOT = Path(__file__).resolve().parents[1]
PROXIED = {"X-Forwarded-Proto": "https"}  # what the proxy adds; SECURE_PROXY_SSL_HEADER trusts it
YEAR = "max-age=315360000"


def get(url: str, **kwargs) -> httpx.Response:
    return httpx.get(url, timeout=30, **kwargs)  # patient: the suite shares a few cores


def procfile(name: str) -> dict[str, str]:
    """A Procfile's commands by process name."""
    lines = (ROOT / name).read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def production_web_env(static_root: Path, port: int) -> dict[str, str]:
    """The test run's keys and services, production's defaults otherwise (HTTPS redirect, secure cookies)."""
    env = {
        **os.environ,
        "FAOS_ENV_FILES": "",
        "DEBUG": "false",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "FAOS_BROKER_DIR": str(settings.BROKER_DIR),
        "STATIC_ROOT": str(static_root),
        "FAOS_STATIC_MANIFEST": "true",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "FAOS_NUM_PROXIES": "1",
        "FAOS_WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "FAOS_WEB_THREADS": "2",
        "FAOS_DB_POOL_MAX_SIZE": "2",
    }
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        env.pop(name, None)  # the test run turns them off; production leaves them on
    return env


def collectstatic(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def wait_until_serving(proc: subprocess.Popen, url: str, log: Path, timeout: float = 60) -> None:
    """Poll until the server answers at all (any status), failing early if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the web process exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"the web process did not answer within {timeout}s:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (gunicorn's master and its workers), SIGKILL if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture
def production_web(transactional_db, tmp_path):
    """The web process of Procfile.prod on a free port; yields its base URL and always stops it."""
    port = free_port()
    env = production_web_env(tmp_path / "static", port)
    collectstatic(env)
    log = tmp_path / "web.log"
    command = procfile("Procfile.prod")["web"]
    proc = subprocess.Popen(
        ["/bin/sh", "-c", f"exec {command}"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stop() reaches every worker
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, f"{base}/admin/login/", log)
        yield base
    finally:
        stop(proc)


@pytest.mark.e2e
def test_the_production_web_process_serves_the_admin_static_files_and_the_schema(production_web, admin_user):
    assert get(f"{production_web}/admin/login/").status_code == 301  # plain HTTP goes to HTTPS

    login = get(f"{production_web}/admin/login/", headers=PROXIED)
    assert login.status_code == 200 and "csrfmiddlewaretoken" in login.text
    assert "; secure" in login.headers["set-cookie"].lower()
    stylesheets = re.findall(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', login.text)  # hashed by the manifest
    assert {"admin/css/base", "faos/admin"} <= {re.sub(r"\.[0-9a-f]{12}\.css$", "", s)[8:] for s in stylesheets}
    for stylesheet in stylesheets:
        static = get(f"{production_web}{stylesheet}", headers=PROXIED)
        assert static.status_code == 200 and static.headers["content-type"].startswith("text/css")
        assert YEAR in static.headers["cache-control"] and "immutable" in static.headers["cache-control"]
        assert static.headers.get("content-encoding") in ("gzip", "br")  # compressed once, at collectstatic

    schema = get(f"{production_web}/api/schema/", headers=PROXIED)
    assert schema.status_code == 200 and schema.text.startswith("openapi:")
    # The database through the pool: a token made here is found by the web process.
    token = Token.objects.create(user=admin_user)
    api = get(f"{production_web}/api/workflows/", headers={**PROXIED, "Authorization": f"Token {token.key}"})
    assert api.status_code == 200 and api.json()["count"] == 0


def gunicorn_settings(**env: str) -> subprocess.CompletedProcess:
    """Load gunicorn.conf.py as gunicorn does, in a fresh process; prints workers and threads."""
    code = "import runpy; ns = runpy.run_path('gunicorn.conf.py'); print(ns['workers'], ns['threads'], ns['bind'])"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "FAOS_ENV_FILES": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_web_threads_are_capped_by_the_database_pool(tmp_path):
    postgres = {"DATABASE_URL": "postgres://faos@db.internal:5432/faos", "FAOS_STATIC_MANIFEST": "false"}
    sized = gunicorn_settings(**postgres, FAOS_DB_POOL_MAX_SIZE="3", WEB_CONCURRENCY="5", FAOS_WEB_BIND="0:9000")
    assert sized.returncode == 0, sized.stderr[-3000:]
    assert sized.stdout.split()[-3:] == ["5", "3", "['0:9000']"]  # default 4 threads, but the pool holds 3
    refused = gunicorn_settings(**postgres, FAOS_DB_POOL_MAX_SIZE="3", FAOS_WEB_THREADS="8")
    assert refused.returncode != 0
    assert "FAOS_WEB_THREADS=8 is more than FAOS_DB_POOL_MAX_SIZE=3" in refused.stderr


def test_the_web_process_refuses_to_start_before_collectstatic(tmp_path):
    result = gunicorn_settings(FAOS_STATIC_MANIFEST="true", STATIC_ROOT=str(tmp_path))
    assert result.returncode != 0
    assert "run `python manage.py collectstatic --no-input`" in result.stderr


def test_the_production_procfile_runs_gunicorn_worker_and_beat():
    commands = procfile("Procfile.prod")
    assert set(commands) == {"web", "worker", "beat"}
    assert shlex.split(commands["web"])[0].endswith("gunicorn")  # configured by gunicorn.conf.py, found by cwd
    assert "celery -A faos worker" in commands["worker"] and "celery -A faos beat" in commands["beat"]
    check = subprocess.run(
        [sys.executable, "-m", "honcho", "check", "-f", "Procfile.prod"], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_the_systemd_units_run_the_procfile_commands_with_the_environment_file():
    commands = procfile("Procfile.prod")
    for name, command in commands.items():
        unit = (ROOT / "deploy" / f"faos-{name}.service").read_text()
        assert "EnvironmentFile=/etc/faos/faos.env" in unit and "WorkingDirectory=/srv/faos" in unit
        exec_start = re.search(r"^ExecStart=(.+)$", unit, re.M).group(1)
        program, *args = shlex.split(exec_start)
        expected_program, *expected_args = shlex.split(
            command.replace("${WORKER_CONCURRENCY:-2}", "${WORKER_CONCURRENCY}")
        )
        assert program == f"/srv/faos/{expected_program}" and args == expected_args, name


def test_the_production_env_file_lists_every_setting():
    """docs/production.env names every variable the settings, gunicorn.conf.py and Procfile.prod read."""
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / "docs" / "production.env").read_text(), re.M))
    read = set(re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', (ROOT / "faos" / "settings.py").read_text()))
    read |= set(re.findall(r'os\.environ\.get\("([A-Z][A-Z0-9_]+)"', (ROOT / "gunicorn.conf.py").read_text()))
    read |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (ROOT / "Procfile.prod").read_text()))
    development_only = {"CELERY_TASK_ALWAYS_EAGER", "FAOS_BROKER_DIR", "FAOS_ENV_FILES"}
    assert read - development_only - documented == set()
