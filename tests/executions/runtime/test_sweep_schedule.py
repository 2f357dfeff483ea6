"""The Beat sweep's messages expire: django-celery-beat stores `expire_seconds` (it drops `expires`)."""

import pytest
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from faos.celery import app

pytestmark = pytest.mark.django_db


def test_the_sweep_entry_is_stored_with_its_expiry_so_a_backlog_of_sweeps_never_builds_up(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["faos-sweep"]
    ModelEntry.from_entry("faos-sweep", app=app, **entry)  # what Beat's database scheduler stores
    assert PeriodicTask.objects.get(name="faos-sweep").expire_seconds == 30
