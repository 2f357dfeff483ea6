"""Schedule triggers stay in sync with django-celery-beat; a fired occurrence runs once."""

import json
from datetime import UTC, datetime, timedelta

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


# One cron grammar: what is accepted fires, and the preview is what Beat fires.


def beat_fires(task: PeriodicTask, start: datetime, count: int = 5) -> list[datetime]:
    """Beat's own loop over the stored schedule: ask is_due, sleep the seconds it says, record each run."""
    schedule = task.schedule  # what django-celery-beat's scheduler loads from the database
    now = last = start.astimezone(schedule.tz)
    fires = []
    while len(fires) < count:
        schedule.nowfun = lambda now=now: now  # Beat's clock, in the schedule's zone as TzAwareCrontab reads it
        due, wait = schedule.is_due(last)
        if due:
            fires.append(now)
            last = now
        now = (now.astimezone(UTC) + timedelta(seconds=max(wait, 1))).astimezone(schedule.tz)  # real seconds
    return [fire.astimezone(UTC) for fire in fires]


CRONS = [
    ("0 9 * * 1-5", "Europe/Paris", datetime(2026, 11, 24, 12, 0, tzinfo=UTC)),
    ("0 9 1 * 1", "UTC", datetime(2026, 1, 1, 0, 0, tzinfo=UTC)),  # Celery ANDs day of month and weekday
    ("0 9 1,15 * *", "Asia/Kolkata", datetime(2026, 11, 24, 12, 0, tzinfo=UTC)),
    ("*/20 8-9 * * *", "America/New_York", datetime(2027, 3, 13, 12, 0, tzinfo=UTC)),  # DST starts 14 March
    ("30 2 * * *", "Europe/Paris", datetime(2027, 3, 26, 12, 0, tzinfo=UTC)),  # 02:30 does not exist on 28 March
    ("30 2 * * *", "Europe/Paris", datetime(2026, 10, 23, 12, 0, tzinfo=UTC)),  # 02:30 happens twice on 25 Oct
    ("0 0 29 2 *", "UTC", datetime(2026, 3, 1, 0, 0, tzinfo=UTC)),  # leap days only
    ("15 10 * 1,7 sun", "Australia/Sydney", datetime(2026, 11, 24, 12, 0, tzinfo=UTC)),
    ("@daily", "Pacific/Auckland", datetime(2026, 9, 25, 12, 0, tzinfo=UTC)),  # NZ DST starts 27 September
    ("@hourly", "UTC", datetime(2026, 11, 24, 12, 30, tzinfo=UTC)),
]


@pytest.mark.parametrize(("cron", "zone", "start"), CRONS, ids=[f"{c} {z} {s:%Y-%m-%d}" for c, z, s in CRONS])
def test_the_preview_is_what_celery_fires(cron, zone, start):
    trigger = schedule(cron=cron, timezone=zone)
    task = PeriodicTask.objects.get(pk=trigger.periodic_task_id)
    preview = next_runs(trigger.config, count=5, start=start)
    assert [run.astimezone(UTC) for run in preview] == beat_fires(task, start)  # an ambiguous hour: compare instants
    assert all(str(run.tzinfo) == zone for run in preview)


def test_a_month_day_with_a_weekday_fires_only_when_both_hold():
    runs = next_runs({"cron": "0 9 1 * 1", "timezone": "UTC"}, count=2, start=datetime(2026, 1, 1, tzinfo=UTC))
    assert [r.date().isoformat() for r in runs] == ["2026-06-01", "2027-02-01"]  # Mondays that are the 1st


@pytest.mark.parametrize(
    ("cron", "part"),
    [("0 9 L * *", "day of month 'L'"), ("0 9 * * 1#2", "weekday '1#2'"), ("0 9 * * 5L", "weekday '5L'")],
)
def test_l_and_hash_syntax_is_refused_naming_the_field(cron, part):
    with pytest.raises(ValidationError) as exc:
        schedule(cron=cron)
    [message] = exc.value.message_dict["config.cron"]
    assert part in message and "not L, W, # or ?" in message
    assert not PeriodicTask.objects.filter(task="workflows.tasks.fire_schedule").exists()


def test_six_fields_and_unknown_aliases_are_refused_naming_the_field():
    for cron, words in [("0 0 9 * * 1-5", "it has 6 fields"), ("@reboot", "unknown alias '@reboot'")]:
        with pytest.raises(ValidationError) as exc:
            schedule(cron=cron)
        assert words in exc.value.message_dict["config.cron"][0]


@pytest.fixture
def api_editor():
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from tests.factories import EditorFactory

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=EditorFactory()).key}")
    return client


def test_daily_alias_on_import_is_4xx_not_500(api_editor):
    steps = [{"key": "ping", "name": "Ping", "config": {"action": "log", "inputs": {"message": "tick"}}}]
    definition = {"name": "Nightly", "steps": steps, "triggers": [{"kind": "schedule", "config": {"cron": "@daily"}}]}
    imported = api_editor.post("/api/workflows/import/", definition, format="json")
    assert imported.status_code == 201, imported.json()  # translated: midnight every day, as Celery fires it
    crontab = PeriodicTask.objects.get(task="workflows.tasks.fire_schedule").crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month, crontab.day_of_week) == ("0", "0", "*", "*")
    six = {**definition, "name": "Six", "triggers": [{"kind": "schedule", "config": {"cron": "0 0 9 * * *"}}]}
    refused = api_editor.post("/api/workflows/import/", six, format="json")
    assert refused.status_code == 400 and "config.cron" in json.dumps(refused.json()), refused.json()
