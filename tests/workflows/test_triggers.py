"""Schedule triggers stay in sync with django-celery-beat; a fired occurrence runs once."""

import json
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django_celery_beat.models import PeriodicTask

from executions.models import Execution
from tests.factories import TriggerFactory, workflow_with_steps
from workflows.services import trigger_fire_schedule, workflow_activate
from workflows.triggers import next_runs, trigger_sync

pytestmark = pytest.mark.django_db(transaction=True)


def schedule(**config):
    workflow = workflow_with_steps(
        [{"key": "ping", "name": "Ping", "config": {"action": "log", "inputs": {"message": "tick"}}}]
    )
    trigger = TriggerFactory(
        workflow=workflow, kind="schedule", config={"cron": "0 9 * * 1-5", "timezone": "Europe/Paris", **config}
    )
    return trigger_sync(trigger=trigger)


def test_the_periodic_task_follows_every_change_of_its_trigger():
    trigger = schedule()
    task = PeriodicTask.objects.get(pk=trigger.periodic_task_id)
    assert task.task == "workflows.tasks.fire_schedule" and json.loads(task.args) == [trigger.pk]
    assert (task.crontab.hour, task.crontab.day_of_week, str(task.crontab.timezone)) == ("9", "1-5", "Europe/Paris")
    trigger.config = {"every_seconds": 3600}
    trigger.is_enabled = False
    trigger_sync(trigger=trigger)
    task.refresh_from_db()
    assert task.interval.every == 3600 and task.crontab is None and task.enabled is False
    trigger.kind = "manual"
    trigger_sync(trigger=trigger)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_deleting_schedule_triggers_in_bulk_removes_their_tasks():
    first, second = schedule(), schedule()
    type(first).objects.filter(pk__in=[first.pk, second.pk]).delete()
    assert PeriodicTask.objects.filter(task="workflows.tasks.fire_schedule").count() == 0


def test_bad_schedules_are_refused_naming_the_field():
    with pytest.raises(ValidationError) as exc:
        schedule(cron="99 * * * *")
    assert "config.cron" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        schedule(timezone="Mars/Olympus")
    assert "config.timezone" in exc.value.message_dict


def test_a_fired_schedule_starts_one_run_even_when_beat_fires_twice():
    trigger = schedule()
    workflow_activate(workflow=trigger.workflow)
    moment = datetime(2026, 11, 24, 8, 0, 0, 120000, tzinfo=UTC)
    first = trigger_fire_schedule(trigger_id=trigger.pk, fired_at=moment)
    again = trigger_fire_schedule(trigger_id=trigger.pk, fired_at=moment.replace(second=2))
    assert first.pk == again.pk and Execution.objects.count() == 1
    first.refresh_from_db()
    assert first.trigger_kind == "schedule" and first.status == "succeeded"


def test_schedules_of_inactive_workflows_do_not_run():
    trigger = schedule()
    assert trigger_fire_schedule(trigger_id=trigger.pk, fired_at=datetime.now(UTC)) is None


def test_next_runs_preview_honours_the_time_zone():
    runs = next_runs({"cron": "0 9 * * *", "timezone": "Europe/Paris"}, start=datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    assert [r.isoformat() for r in runs[:2]] == ["2026-11-25T09:00:00+01:00", "2026-11-26T09:00:00+01:00"]


def test_bulk_disable_in_the_admin_disables_the_beat_tasks(client, admin_user):
    from django.urls import reverse

    first, second = schedule(), schedule()
    client.force_login(admin_user)
    client.post(
        reverse("admin:workflows_trigger_changelist"),
        {"action": "disable_selected", "_selected_action": [first.pk, second.pk]},
    )
    assert not PeriodicTask.objects.filter(task="workflows.tasks.fire_schedule", enabled=True).exists()
    client.post(
        reverse("admin:workflows_trigger_changelist"), {"action": "enable_selected", "_selected_action": [first.pk]}
    )
    assert PeriodicTask.objects.filter(task="workflows.tasks.fire_schedule", enabled=True).count() == 1
