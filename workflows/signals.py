"""Deleting a schedule trigger (also in bulk) removes its PeriodicTask."""

from django.db.models.signals import post_delete
from django.dispatch import receiver
from django_celery_beat.models import PeriodicTask

from .models import Trigger


@receiver(post_delete, sender=Trigger)
def drop_periodic_task(sender, instance: Trigger, **kwargs):
    if instance.periodic_task_id:
        PeriodicTask.objects.filter(pk=instance.periodic_task_id).delete()
