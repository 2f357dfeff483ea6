"""Gunicorn settings for the production web process, from the environment (README: "Run it in production").

Gunicorn reads this file by itself when started from the project folder (`gunicorn faos.wsgi`, Procfile.prod).
It loads the same Django settings (and env files) as the app, so the database pool it sizes threads by is
the app's own.
"""

import os
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")
from django.conf import settings  # noqa: E402 - needs DJANGO_SETTINGS_MODULE

DEFAULT_THREADS = 4


def pool_size() -> int | None:
    """Connections one process may hold at once (FAOS_DB_POOL_MAX_SIZE); None without a pool."""
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    return pool.get("max_size", 10) if isinstance(pool, dict) else None


def thread_count() -> int:
    """FAOS_WEB_THREADS, never more than the pool: a request must not wait for a connection its own process holds."""
    limit = pool_size()
    wanted = os.environ.get("FAOS_WEB_THREADS")
    if wanted is None:
        return min(DEFAULT_THREADS, limit) if limit else DEFAULT_THREADS
    if limit and int(wanted) > limit:
        raise SystemExit(
            f"FAOS_WEB_THREADS={wanted} is more than FAOS_DB_POOL_MAX_SIZE={limit}: each thread may hold one "
            "database connection, so lower the threads or raise the pool (and PostgreSQL's max_connections)."
        )
    return int(wanted)


def check_static_files() -> None:
    """Refuse to start without collected static files: every page would fail on a missing manifest entry."""
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if settings.FAOS_STATIC_MANIFEST and not manifest.is_file():
        raise SystemExit(
            f"No {manifest}: run `python manage.py collectstatic --no-input` before starting the web process "
            "(or set FAOS_STATIC_MANIFEST=false to serve static files uncollected and uncached)."
        )


check_static_files()
wsgi_app = "faos.wsgi:application"
bind = os.environ.get("FAOS_WEB_BIND", "127.0.0.1:8000").split(",")  # behind the reverse proxy
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = thread_count()
timeout = int(os.environ.get("FAOS_WEB_TIMEOUT", "30"))
graceful_timeout = timeout
keepalive = 5  # seconds an idle connection from the proxy stays open
# Recycle each worker now and then (jittered, so not all at once): bounds any slow memory growth. Not too often:
# a new worker loads the app again (~1.5 s of CPU here, without preload), 0.75 ms a request at every 2,000.
max_requests = int(os.environ.get("FAOS_WEB_MAX_REQUESTS", "10000"))
max_requests_jitter = max_requests // 10
# Never preload: each worker must open its own database pool after the fork, not share the master's.
preload_app = False
proc_name = "faos-web"
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# X-Forwarded-Proto/-For are trusted from FORWARDED_ALLOW_IPS (gunicorn's own variable; default 127.0.0.1,::1).
