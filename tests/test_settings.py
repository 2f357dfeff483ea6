"""Safe by default: production settings unless `make run` says otherwise, own keys, HTTPS, a bounded pool.

Settings are read once per process, so most tests start `python -c` or `manage.py` with an environment
they control completely (no env files, nothing inherited from the test run).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection as db

from faos import local_env
from integrations import crypto
from integrations.models import Connection

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV_FILE = ROOT / "docs" / "production.env"
OLD_DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production"


def bare_env(**values: str) -> dict[str, str]:
    """An environment with none of FAOS's variables and no env files: the settings' own defaults."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), "FAOS_ENV_FILES": ""}
    env.update(DJANGO_SETTINGS_MODULE="faos.settings", CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    env.update(values)
    return env


def production_env(**overrides: str) -> dict[str, str]:
    """The documented production environment (docs/production.env) with freshly generated secrets."""
    values = {}
    for line in PRODUCTION_ENV_FILE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    assert values["SECRET_KEY"] == "" and values["FAOS_ENCRYPTION_KEYS"] == "", "the documented file ships no secrets"
    values["SECRET_KEY"] = secrets.token_urlsafe(50)
    values["FAOS_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    values.update(overrides)
    return bare_env(**values)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def settings_in(env: dict[str, str], *names: str) -> dict:
    """The named settings as a fresh process with this environment sees them."""
    code = (
        "import json, sys; from django.conf import settings; "
        "print(json.dumps({n: getattr(settings, n, None) for n in sys.argv[1:]}, default=repr))"
    )
    result = run([sys.executable, "-c", code, *names], env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def refusal(env: dict[str, str]) -> str:
    """Start `manage.py check` and return why it refused to start (fails if it started)."""
    result = run([sys.executable, "manage.py", "check"], env)
    assert result.returncode != 0, "started, but should have refused"
    assert "ImproperlyConfigured" in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


# DEBUG and the secret key


def test_debug_is_off_by_default():
    env = production_env()
    del env["DEBUG"]
    values = settings_in(env, "DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE")
    assert values == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
    }


@pytest.mark.parametrize(
    "secret_key",
    [None, "", OLD_DEFAULT_SECRET_KEY, "django-insecure-" + "x" * 50],
    ids=["missing", "empty", "old-public-default", "django-insecure"],
)
def test_refuses_to_start_with_default_secret_key_when_debug_off(secret_key):
    env = production_env()
    if secret_key is None:
        del env["SECRET_KEY"]
    else:
        env["SECRET_KEY"] = secret_key
    reason = refusal(env)
    assert "SECRET_KEY" in reason and "DEBUG is off" in reason
    assert "secrets.token_urlsafe(50)" in reason  # says how to make one


def test_refuses_to_start_without_encryption_keys_in_production():
    env = production_env()
    del env["FAOS_ENCRYPTION_KEYS"]
    reason = refusal(env)
    assert "FAOS_ENCRYPTION_KEYS" in reason and "DEBUG is off" in reason
    assert "Fernet.generate_key()" in reason  # says how to make one


def test_refuses_to_start_with_a_malformed_encryption_key():
    reason = refusal(production_env(FAOS_ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},not-a-key"))
    assert "FAOS_ENCRYPTION_KEYS: key 2 is not a Fernet key" in reason


def test_debug_mode_starts_with_nothing_set():
    """Development stays zero-config: DEBUG=true alone is enough to start."""
    result = run([sys.executable, "manage.py", "check"], bare_env(DEBUG="true"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert settings_in(bare_env(DEBUG="true"), "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS") == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
    }


# The local env file that `make setup` writes


def test_local_env_file_turns_debug_on_and_keeps_its_keys(tmp_path):
    path = tmp_path / "local.env"
    assert local_env.ensure(path) is True
    first = path.read_text()
    assert local_env.ensure(path) is False and path.read_text() == first  # written once: restarts keep the keys
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    values = settings_in(bare_env(FAOS_ENV_FILES=str(path)), "DEBUG", "SECRET_KEY", "FAOS_ENCRYPTION_KEYS")
    assert values["DEBUG"] is True
    assert f"SECRET_KEY={values['SECRET_KEY']}\n" in first and values["SECRET_KEY"] != OLD_DEFAULT_SECRET_KEY
    Fernet(values["FAOS_ENCRYPTION_KEYS"][0])  # a real key
    # The real environment wins over the file.
    assert settings_in(bare_env(FAOS_ENV_FILES=str(path), DEBUG="false"), "DEBUG") == {"DEBUG": False}
    assert "var/" in (ROOT / ".gitignore").read_text().split()  # the file is never committed


# The credential key


def test_credential_key_does_not_derive_from_secret_key(settings):
    settings.DEBUG = False
    key = Fernet.generate_key().decode()
    settings.FAOS_ENCRYPTION_KEYS = [key]
    token = crypto.encrypt({"api_key": "sk_live_canary"})
    assert Fernet(key.encode()).decrypt(token.encode())  # the configured key opens it …
    for secret in (settings.SECRET_KEY, OLD_DEFAULT_SECRET_KEY):
        with pytest.raises(InvalidToken):  # … a key derived from SECRET_KEY does not
            Fernet(crypto.legacy_key(secret).encode()).decrypt(token.encode())
    # What an old version wrote with the derived key does not open in production either …
    legacy_token = Fernet(crypto.legacy_key(settings.SECRET_KEY).encode()).encrypt(b'{"api_key": "old"}').decode()
    with pytest.raises(ValueError, match="cannot decrypt"):
        crypto.decrypt(legacy_token)
    # … and without FAOS_ENCRYPTION_KEYS nothing is encrypted at all (no fallback to a derived key).
    settings.FAOS_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="FAOS_ENCRYPTION_KEYS"):
        crypto.encrypt({"api_key": "sk_live_canary"})


def test_debug_still_opens_local_data_written_with_the_old_derived_key(settings):
    """Existing local databases keep working in development (decryption only; new writes use the new key)."""
    settings.DEBUG = True
    key = Fernet.generate_key().decode()
    settings.FAOS_ENCRYPTION_KEYS = [key]
    legacy_token = Fernet(crypto.legacy_key(OLD_DEFAULT_SECRET_KEY).encode()).encrypt(b'{"a": 1}').decode()
    assert crypto.decrypt(legacy_token) == {"a": 1}
    Fernet(key.encode()).decrypt(crypto.rotate(legacy_token).encode())  # rotation moves it onto the new key


@pytest.fixture
def no_upgrade_keys():
    yield
    crypto.allow_legacy_decryption([])


@pytest.mark.django_db
def test_rotate_keys_from_legacy_key_upgrades_rows_written_by_older_versions(settings, no_upgrade_keys):
    settings.DEBUG = False
    settings.FAOS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    connection = Connection.objects.create(service="slack", credentials={})
    legacy = Fernet(crypto.legacy_key(settings.SECRET_KEY).encode()).encrypt(b'{"bot_token": "xoxb-old"}').decode()
    with db.cursor() as cursor:
        cursor.execute("UPDATE integrations_connection SET credentials = %s WHERE id = %s", [legacy, connection.pk])
    with pytest.raises(ValueError, match="cannot decrypt"):
        Connection.objects.get(pk=connection.pk)
    call_command("rotate_keys", "--from-legacy-key", stdout=open(os.devnull, "w"))  # noqa: SIM115
    crypto.allow_legacy_decryption([])
    assert Connection.objects.get(pk=connection.pk).credentials == {"bot_token": "xoxb-old"}


# HTTPS and check --deploy


def test_check_deploy_is_clean_under_production_env():
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_hsts_and_proxy_header_come_from_the_environment():
    defaults = settings_in(
        production_env(SECURE_PROXY_SSL_HEADER="", SECURE_HSTS_INCLUDE_SUBDOMAINS="", SECURE_HSTS_PRELOAD=""),
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_PROXY_SSL_HEADER",
    )
    assert defaults == {
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,  # trusting a proxy header is opt-in
    }
    values = settings_in(production_env(SECURE_HSTS_SECONDS="60"), "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER")
    assert values == {"SECURE_HSTS_SECONDS": 60, "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]}
    assert "SECURE_PROXY_SSL_HEADER must be" in refusal(
        production_env(SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO")
    )


# The database connection pool

POOL_PROBE = """
import sys, threading
import django
django.setup()
from django.db import connection

name, threads = sys.argv[1], int(sys.argv[2])
seen, errors = [], []

def work():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.3)")
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
            seen.append(cursor.fetchone()[0])
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connection.close()  # what the end of a request does

workers = [threading.Thread(target=work) for _ in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(len(seen), max(seen or [0]), errors[:3])
"""


def test_database_connections_are_pooled_and_bounded():
    env = production_env(DATABASE_URL="postgres://faos@db.internal:5432/faos", FAOS_DB_POOL_MAX_SIZE="7")
    values = settings_in(env, "DATABASES")["DATABASES"]["default"]
    assert values["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 7, "timeout": 10.0}
    assert values["CONN_MAX_AGE"] == 0  # Django refuses persistent connections beside a pool

    if db.vendor != "postgresql":
        pytest.skip("the live bound needs PostgreSQL (DATABASE_URL=postgres://…)")
    params = db.settings_dict
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    url = f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/postgres"

    def probe(**pool_env: str) -> tuple[int, int, str]:
        name = f"faos-pool-{uuid.uuid4().hex[:8]}"
        env = production_env(DATABASE_URL=f"{url}?application_name={name}", **pool_env)
        result = run([sys.executable, "-c", POOL_PROBE, name, "24"], env)
        assert result.returncode == 0, result.stderr[-3000:]
        done, most, errors = result.stdout.strip().splitlines()[-1].split(" ", 2)
        return int(done), int(most), errors

    # 24 concurrent users of the database in one process: all served, never more than 3 server connections.
    done, most, errors = probe(FAOS_DB_POOL_MAX_SIZE="3", FAOS_DB_POOL_TIMEOUT="60")
    assert (done, errors) == (24, "[]")
    assert 1 <= most <= 3
    # Without the pool the same load opens a connection per thread: the bound above is the pool's doing.
    done, most, _ = probe(FAOS_DB_POOL="false")
    assert done == 24 and most > 3
