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
