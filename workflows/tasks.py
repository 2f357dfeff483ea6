"""Celery tasks for definitions: Beat fires schedule triggers through here."""

from celery import shared_task
from django.utils import timezone

from .services import trigger_fire_schedule


@shared_task(ignore_result=True)
def fire_schedule(trigger_id: int) -> int | None:
    """Start the run for this occurrence of a schedule (at most once per occurrence)."""
    execution = trigger_fire_schedule(trigger_id=trigger_id, fired_at=timezone.now())
    return execution.pk if execution else None
