"""The Celery application; tasks live in the apps' tasks.py modules."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faos.settings")

app = Celery("faos")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def use_django_logging(**kwargs):
    """Workers and Beat log through settings.LOGGING (LOG_FORMAT=json too) instead of Celery's own format."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.worker_init.connect
def yield_cpu_to_the_web(**kwargs):
    """FAOS_WORKER_NICE: the worker (and the pool it forks next) ranks below the web for the CPU."""
    from django.conf import settings

    from faos.priority import lower_cpu_priority

    lower_cpu_priority(settings.FAOS_WORKER_NICE)
