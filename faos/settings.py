"""Settings, read from the environment with django-environ.

Production is the default: DEBUG is off and the process refuses to start without its own SECRET_KEY and
FAOS_ENCRYPTION_KEYS. `make run` turns DEBUG on and generates local keys once into var/local.env.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from faos.cache import cache_config, default_cache_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# Env files never override the real environment: `.env` (yours, optional), then var/local.env, which
# `make setup` writes once for local development (DEBUG on, generated keys). FAOS_ENV_FILES="" reads none.
for _env_file in env.list("FAOS_ENV_FILES", default=[".env", "var/local.env"]):
    if (BASE_DIR / _env_file).is_file():
        environ.Env.read_env(BASE_DIR / _env_file, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The key FAOS once shipped as its default is public: acceptable (and still the default) only with DEBUG on.
INSECURE_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-in-production"
SECRET_KEY = env("SECRET_KEY", default=INSECURE_DEV_SECRET_KEY if DEBUG else "")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])  # old keys, while sessions move over
if not DEBUG and (not SECRET_KEY or SECRET_KEY == INSECURE_DEV_SECRET_KEY or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "SECRET_KEY is missing or a public development value, and DEBUG is off. Set the SECRET_KEY "
        "environment variable to a long random string, generated with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))' "
        "(for local development, `make run` turns DEBUG on and generates one in var/local.env)."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The port `make run` / the Procfile's runserver listens on; SITE_URL (the base of links in e-mails, webhook
# addresses, the OAuth redirect) follows it unless set, e.g. to the public https address in production.
FAOS_PORT = env.int("FAOS_PORT", default=8000)
SITE_URL = env("SITE_URL", default=f"http://127.0.0.1:{FAOS_PORT}")

# HTTPS. With DEBUG off: redirect to HTTPS, secure cookies, a year of HSTS for this host. Behind a proxy that
# terminates TLS (and always sets or strips the header), opt in with
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https so Django sees the request was secure.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if _proxy_ssl_header := env.list("SECURE_PROXY_SSL_HEADER", default=[]):
    if len(_proxy_ssl_header) != 2:
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be 'HEADER,value', e.g. HTTP_X_FORWARDED_PROTO,https")
    SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header)

INSTALLED_APPS = [
    "faos.apps.FaosAdminConfig",  # django.contrib.admin with FAOS' site: sections and titles (faos/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_celery_beat",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "workflows",
    "executions",
    "integrations",
    "replays",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, right after the HTTPS redirect
    "django.contrib.sessions.middleware.SessionMiddleware",
    "faos.slash.ApiOptionalSlashMiddleware",  # /api/… with or without the trailing slash (a POST can't redirect)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "faos.urls"
WSGI_APPLICATION = "faos.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "executions.context_processors.faos_counts",
            ],
        },
    },
]
FORM_RENDERER = "faos.form_renderer.FormRenderer"  # an empty error list costs no template

# SQLite by default, tuned so web, worker and beat can share it: WAL lets readers run beside the
# writer, IMMEDIATE transactions take the write lock up front (no deadlock on upgrade), and the
# busy timeout makes a writer wait for the lock instead of failing.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so end-to-end tests can share the test database with a worker process;
    # one per test process, so two test runs on one machine never share (or delete) each other's.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    VAR_DIR.mkdir(exist_ok=True)  # a fresh clone has no var/ (a Redis broker, unlike the filesystem one, makes none)
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.bool("FAOS_DB_POOL", default=True):
        # Each process borrows from its own bounded pool (psycopg_pool), so no number of requests can open
        # more than FAOS_DB_POOL_MAX_SIZE server connections per process; a request that finds the pool
        # empty waits FAOS_DB_POOL_TIMEOUT seconds, then fails alone.
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # a pool replaces persistent connections (Django requires 0)
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("FAOS_DB_POOL_MIN_SIZE", default=1),
            "max_size": env.int("FAOS_DB_POOL_MAX_SIZE", default=10),
            "timeout": env.float("FAOS_DB_POOL_TIMEOUT", default=10.0),
        }  # CONN_HEALTH_CHECKS makes the pool check a connection before lending it
    else:
        DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
# The run's and the webhook's hand-written statements (faos.db.prepared_cursor) are parsed and planned once per
# connection, not at every run. The ORM's own queries are never prepared (Django binds them client-side).
# Off behind a pooler that cannot keep a session's prepared statements (PgBouncer in transaction mode before 1.21).
FAOS_DB_PREPARED = env.bool("FAOS_DB_PREPARED", default=True) and DATABASES["default"]["ENGINE"].endswith("postgresql")
if FAOS_DB_PREPARED:
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# Static files are served by whitenoise. With the manifest (the default with DEBUG off) it serves what
# `manage.py collectstatic` put in STATIC_ROOT, under content-hashed names cached for a year; without it
# (DEBUG, tests: nothing collected) it finds each file in the apps' folders on every request.
FAOS_STATIC_MANIFEST = env.bool("FAOS_STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if FAOS_STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not FAOS_STATIC_MANIFEST

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Seconds an SMTP connection may block: the sweep delivers lost outbox e-mails and must not hang on a mail server.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=20.0)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="FAOS Workflows <workflows@localhost>")

# Celery: the broker only carries "go look at execution N"; the database is the truth.
# The default filesystem transport needs no server, for `make run` on a bare machine.
BROKER_DIR = BASE_DIR / env("FAOS_BROKER_DIR", default="var/broker")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://localhost/")  # a host, or kombu warns
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.2,  # the default 1 s would add up to a second to every hand-off
    }
else:
    # Redis redelivers an unacked message after this long; our own lease sweep recovers runs
    # much sooner, so this only needs to exceed the longest single step.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Named queues, so machines can specialise (README "Scaling out"): `steps` runs ordinary steps, `agents` the
# steps that call a model (executions/runtime/routing.py picks per message), `sweep` the Beat sweep and housekeeping.
# A worker without -Q consumes all three and runs everything, as `make run` does.
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in ("steps", "agents", "sweep")]
CELERY_TASK_DEFAULT_QUEUE = "steps"
CELERY_TASK_ROUTES = {
    "executions.tasks.run_execution": {"queue": "steps"},  # enqueue() names the queue; this is the fallback
    "executions.tasks.*": {"queue": "sweep"},  # the sweep, retention
    "workflows.tasks.fire_schedule": {"queue": "sweep"},
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "faos.beat:DatabaseScheduler"  # django-celery-beat's, change detection fixed
CELERY_BEAT_SCHEDULE = {
    "faos-sweep": {
        "task": "executions.tasks.sweep",
        "schedule": env.float("FAOS_SWEEP_INTERVAL", default=5.0),
        "options": {"expire_seconds": 30},  # a sweep not taken within 30 s is dropped: the next one comes
    },
    # Retention: daily, at a quiet hour; django-celery-beat reads `expire_seconds` (it drops `expires`).
    "faos-prune-executions": {
        "task": "executions.tasks.prune_executions",
        "schedule": crontab(hour=3, minute=17),
        "options": {"expire_seconds": 6 * 3600},
    },
}
DJANGO_CELERY_BEAT_TZ_AWARE = True
# Finished runs (with their step runs, approvals and closed tasks) older than this many days are deleted by
# the daily prune above; 0 keeps every run forever.
FAOS_RETENTION_DAYS = env.int("FAOS_RETENTION_DAYS", default=90)

# Engine: how long a claimed step's lease lasts without renewal before the sweep decides its worker
# died and hands the step to another worker; a live worker renews it every third of this while the step runs.
FAOS_LEASE_GRACE_SECONDS = env.float("FAOS_LEASE_GRACE_SECONDS", default=30.0)
# A worker lowers its CPU priority by this much at start (faos/priority.py), so a web process on the same machine
# answers first when both want the cores; 5 gives the web ~3x the share. For honcho or one container; systemd's
# units (deploy/) weight the processes themselves. 0: off.
FAOS_WORKER_NICE = env.int("FAOS_WORKER_NICE", default=0)
# What one step attempt may build (approximate characters of JSON): everything it renders from `{{ … }}`
# (and how long that may take), and its output; read by executions/apps.py into the engine's limits.
FAOS_MAX_RENDERED_CHARS = env.int("FAOS_MAX_RENDERED_CHARS", default=4_000_000)
FAOS_RENDER_SECONDS = env.float("FAOS_RENDER_SECONDS", default=5.0)
FAOS_MAX_STEP_OUTPUT_CHARS = env.int("FAOS_MAX_STEP_OUTPUT_CHARS", default=4_000_000)
FAOS_STEPS_PER_TASK = env.int("FAOS_STEPS_PER_TASK", default=50)
# On a Redis broker, new runs wait in one list and one message has a worker run up to 16 of them
# (executions/runtime/starts.py). Off, every start sends its own message.
FAOS_BATCHED_STARTS = env.bool("FAOS_BATCHED_STARTS", default=True)
# A run's own task delivers the events it decided (execution.succeeded, …) right after its commit; off, they go
# to the sweep queue as one delivery message each (the sweep delivers any the task did not live to send).
FAOS_RUN_DELIVERS_EVENTS = env.bool("FAOS_RUN_DELIVERS_EVENTS", default=True)
FAOS_DEFAULT_WORKFLOW_TIMEOUT = env.int("FAOS_DEFAULT_WORKFLOW_TIMEOUT", default=300)
# Outbound HTTP: private, loopback and link-local targets are refused unless listed here
# (host names, IPs or CIDRs), e.g. "127.0.0.1,10.0.0.0/8".
FAOS_HTTP_ALLOW_HOSTS = env.list("FAOS_HTTP_ALLOW_HOSTS", default=[])
# Credentials encryption (Fernet keys, newest first, comma separated); rotating = prepend a key and run
# `manage.py rotate_keys`. Never derived from SECRET_KEY: a database dump alone must not open credentials.
FAOS_ENCRYPTION_KEYS = [key.strip() for key in env.list("FAOS_ENCRYPTION_KEYS", default=[]) if key.strip()]
if not FAOS_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "FAOS_ENCRYPTION_KEYS is not set, and DEBUG is off: stored credentials need a key of their own. Set the "
        "FAOS_ENCRYPTION_KEYS environment variable to a Fernet key, generated with: "
        "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' "
        "(keep it safe: without it stored credentials cannot be read)."
    )
for _number, _key in enumerate(FAOS_ENCRYPTION_KEYS, 1):
    try:
        Fernet(_key.encode())
    except ValueError:
        raise ImproperlyConfigured(
            f"FAOS_ENCRYPTION_KEYS: key {_number} is not a Fernet key (32 url-safe base64 bytes)"
        )

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "faos.throttling.ThrottledTokenAuthentication",  # counts wrong tokens per client address
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["faos.throttling.AnonThrottle", "faos.throttling.UserThrottle"],
    # How many proxies in front of FAOS append to X-Forwarded-For; 0 trusts only REMOTE_ADDR.
    "NUM_PROXIES": env.int("FAOS_NUM_PROXIES", default=0),
    # "N/second|minute|hour|day"; failures count wrong tokens and bad webhook signatures per client address.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("FAOS_THROTTLE_ANON", default="300/minute"),
        "user": env("FAOS_THROTTLE_USER", default="3000/minute"),
        "token_failures": env("FAOS_THROTTLE_TOKEN_FAILURES", default="30/minute"),
        "webhook_signature_failures": env("FAOS_THROTTLE_SIGNATURE_FAILURES", default="30/minute"),
    },
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "faos.schema.AutoSchema",  # documents the error answers too
    # JSON with limits (size 413; depth, NaN, huge numbers 400), and Django's refusals answered as JSON.
    "DEFAULT_PARSER_CLASSES": [
        "faos.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "faos.parsers.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "FAOS Workflows API",
    "DESCRIPTION": "Build, run and watch workflows; webhooks, events and approvals. "
    'Errors use DRF\'s style: {"field": ["message"]}, or {"detail": "message"}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "WorkflowStatusEnum": "workflows.models.Workflow.Status",
        "ExecutionStatusEnum": "executions.models.Execution.Status",
        "ApprovalStatusEnum": "executions.models.Approval.Status",
        "StepRunStatusEnum": "executions.models.StepRun.Status",
        "ReplayStatusEnum": "replays.models.Replay.Status",
        "FinishedRunStatusEnum": "replays.selection.FINISHED",  # which past runs a replay takes
    },
}
# Approval notices also go to these chat channels, e.g. "slack:#approvals" (needs a Slack connection).
# Their Slack messages carry Approve / Reject buttons (the Slack connection's signing secret checks the presses).
FAOS_APPROVAL_CHAT = env.list("FAOS_APPROVAL_CHAT", default=[])
# Task notices to chat, the same way ("slack:#ops"): a Complete button on each.
FAOS_TASK_CHAT = env.list("FAOS_TASK_CHAT", default=[])
# The one-click links in approval and task e-mails: signed, single-use, for the addressee only, valid this long.
FAOS_DECISION_LINK_HOURS = env.float("FAOS_DECISION_LINK_HOURS", default=72.0)
FAOS_WEBHOOK_MAX_BYTES = env.int("FAOS_WEBHOOK_MAX_BYTES", default=1_000_000)
FAOS_WEBHOOK_RATE_PER_MINUTE = env.int("FAOS_WEBHOOK_RATE_PER_MINUTE", default=600)
# The throttles above and the webhook rate limit count in the default cache, which every web process must
# share: CACHE_URL (e.g. redis://127.0.0.1:6379/1), by default the next database on a Redis broker's server,
# else each process's own memory (`make run`). faos/cache.py.
CACHES = {"default": cache_config(env("CACHE_URL", default=default_cache_url(CELERY_BROKER_URL)))}

# Admin login lockout (django-axes): after this many failed logins for one username from one address,
# that pair is refused (429) for the cool-off; `manage.py axes_reset` lifts every lockout. Throttle
# counters (REST_FRAMEWORK above) use the shared cache (CACHES).
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as django-axes asks
AUTHENTICATION_BACKENDS = ["faos.lockout.LoginLockoutBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_ENABLED = env.bool("FAOS_LOGIN_LOCKOUT", default=True)
AXES_FAILURE_LIMIT = env.int("FAOS_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("FAOS_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # one guesser cannot lock everybody out
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "faos.lockout.login_lockout_response"
AXES_CLIENT_IP_CALLABLE = "faos.throttling.client_address"  # the address the API throttles use
AXES_ENABLE_ADMIN = False  # no extra admin pages; lockouts are lifted with axes_reset
AXES_DISABLE_ACCESS_LOG = True  # keep failed attempts only, not a row per successful login

# Observability (the ops app): /health/ and /metrics. /metrics answers 404 until FAOS_METRICS_TOKEN is set; a
# scraper then sends "Authorization: Bearer <token>". The faos_recent_* families cover this many seconds.
FAOS_METRICS_TOKEN = env("FAOS_METRICS_TOKEN", default="")
FAOS_METRICS_WINDOW_SECONDS = env.int("FAOS_METRICS_WINDOW_SECONDS", default=300)
FAOS_HEALTH_TIMEOUT = env.float("FAOS_HEALTH_TIMEOUT", default=1.0)  # broker connect, worker ping
FAOS_HEALTH_WORKERS_CACHE_SECONDS = env.float("FAOS_HEALTH_WORKERS_CACHE_SECONDS", default=10.0)
# Load balancers probe over plain HTTP: /health/ is not redirected to HTTPS (it says only ok or fail).
SECURE_REDIRECT_EXEMPT = [r"^health/$"]

# LOG_FORMAT=json: one JSON object per line (run and step transitions carry their ids as fields); else
# "time level logger message key=value…". Workers and Beat use the same (faos/celery.py).
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "faos.log_format.KeyValueFormatter"},
        "json": {"()": "faos.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "text"}
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
