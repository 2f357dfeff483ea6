"""Settings, read from the environment with django-environ; every value has a local default."""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-secret-key-change-me-in-production")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
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
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
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

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
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
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "faos-sweep": {
        "task": "executions.tasks.sweep",
        "schedule": env.float("FAOS_SWEEP_INTERVAL", default=5.0),
        "options": {"expires": 30},
    },
}
DJANGO_CELERY_BEAT_TZ_AWARE = True

# Engine: how long past a step's timeout a claimed step's lease lasts before the sweep
# decides its worker died and hands the step to another worker.
FAOS_LEASE_GRACE_SECONDS = env.float("FAOS_LEASE_GRACE_SECONDS", default=30.0)
FAOS_STEPS_PER_TASK = env.int("FAOS_STEPS_PER_TASK", default=50)
FAOS_DEFAULT_WORKFLOW_TIMEOUT = env.int("FAOS_DEFAULT_WORKFLOW_TIMEOUT", default=300)
# Outbound HTTP: private, loopback and link-local targets are refused unless listed here
# (host names, IPs or CIDRs), e.g. "127.0.0.1,10.0.0.0/8".
FAOS_HTTP_ALLOW_HOSTS = env.list("FAOS_HTTP_ALLOW_HOSTS", default=[])
# Credentials encryption (Fernet keys, newest first, comma separated); rotating = prepend a key.
FAOS_ENCRYPTION_KEYS = env.list("FAOS_ENCRYPTION_KEYS", default=[])

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
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
    },
}
# Approval notices also go to these chat channels, e.g. "slack:#approvals" (needs a Slack connection).
FAOS_APPROVAL_CHAT = env.list("FAOS_APPROVAL_CHAT", default=[])
FAOS_WEBHOOK_MAX_BYTES = env.int("FAOS_WEBHOOK_MAX_BYTES", default=1_000_000)
FAOS_WEBHOOK_RATE_PER_MINUTE = env.int("FAOS_WEBHOOK_RATE_PER_MINUTE", default=600)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
