"""The right address everywhere: FAOS_PORT moves the development server, and every absolute link follows it."""

from __future__ import annotations

import sys

import pytest
from django.db import connection as db

from tests.test_settings import ROOT, bare_env, run, settings_in


def test_site_url_follows_faos_port_when_unset():
    assert settings_in(bare_env(DEBUG="true"), "FAOS_PORT", "SITE_URL") == {
        "FAOS_PORT": 8000,
        "SITE_URL": "http://127.0.0.1:8000",
    }
    assert settings_in(bare_env(DEBUG="true", FAOS_PORT="8101"), "SITE_URL") == {"SITE_URL": "http://127.0.0.1:8101"}
    explicit = bare_env(DEBUG="true", FAOS_PORT="8101", SITE_URL="https://faos.example.com")
    assert settings_in(explicit, "SITE_URL") == {"SITE_URL": "https://faos.example.com"}


def test_the_procfile_serves_on_faos_port_and_the_worker_takes_worker_concurrency():
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert "runserver 127.0.0.1:${FAOS_PORT:-8000}" in procfile["web"]
    assert "--concurrency=${WORKER_CONCURRENCY:-2}" in procfile["worker"]


@pytest.mark.django_db(transaction=True)
def test_ensure_admin_prints_the_admin_url_on_the_chosen_port(tmp_path):
    """`make run` runs ensure_admin in a fresh process: with FAOS_PORT=8101 it prints the 8101 admin address."""
    params = db.settings_dict
    database_url = (
        f"postgres://{params['USER']}:{params['PASSWORD'] or ''}@{params['HOST'] or '127.0.0.1'}:"
        f"{params['PORT'] or 5432}/{params['NAME']}"
        if db.vendor == "postgresql"
        else f"sqlite:///{params['NAME']}"
    )
    code = (
        "import sys, django; from pathlib import Path; django.setup(); from django.conf import settings; "
        "settings.VAR_DIR = Path(sys.argv[1]); from django.core.management import call_command; "
        "call_command('ensure_admin', username='port-check')"
    )
    result = run(
        [sys.executable, "-c", code, str(tmp_path)],
        bare_env(DEBUG="true", FAOS_PORT="8101", DATABASE_URL=database_url, FAOS_DB_POOL="false"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "FAOS Workflows admin: http://127.0.0.1:8101/admin/" in result.stdout
    assert "127.0.0.1:8000" not in result.stdout


def test_the_webhook_url_and_the_oauth_redirect_follow_faos_port():
    code = (
        "import django; django.setup(); from integrations.views import callback_uri; "
        "from workflows.admin import webhook_example; from workflows.models import Trigger; "
        "hook = Trigger(kind='webhook', token='tok', config={'auth': 'none'}); "
        "print(callback_uri()); print(webhook_example(hook, reveal=False)[1])"
    )
    result = run([sys.executable, "-c", code], bare_env(DEBUG="true", FAOS_PORT="8101"))
    assert result.returncode == 0, result.stderr[-3000:]
    redirect, curl = result.stdout.strip().splitlines()[-2:]
    assert redirect == "http://127.0.0.1:8101/integrations/oauth/callback/"
    assert "http://127.0.0.1:8101/api/hooks/tok/" in curl
