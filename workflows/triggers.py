"""Trigger services: a config schema per kind, validate kind-specific config, keep schedules in sync with Beat."""

from __future__ import annotations

import json
import zoneinfo
from datetime import UTC, datetime, timedelta

from celery.schedules import crontab
from django.core.exceptions import ValidationError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.tzcrontab import TzAwareCrontab

from executions.engine import expressions
from integrations.webhooks import SCHEMES

from .models import Trigger

FIRE_TASK = "workflows.tasks.fire_schedule"
AUTH_SCHEMES = (
    "none",
    "token",
    "hmac_sha256",
    "stripe",
    "shopify",
    "woocommerce",
    "slack",
    "hubspot_v3",
    "zendesk",
)
COMMON_TIME_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Zurich",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Istanbul",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/Mexico_City",
    "America/New_York",
    "America/Toronto",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
)
SYSTEM_EVENTS = (
    "execution.succeeded",
    "execution.failed",
    "execution.timed_out",
    "execution.cancelled",
    "approval.decided",
)


def _filter(description: str) -> dict:
    return {"type": "string", "format": "expression", "title": "Only when", "description": description}


# The shape of each kind's config (types, choices, known keys), for the admin form and its server-side check;
# trigger_config_errors below says whether the values mean something (a valid cron, a known time zone…).
# x-suggestions are offered as you type but any value is taken; x-show-if shows a field for some values of another.
CONFIG_SCHEMAS = {
    Trigger.Kind.MANUAL: {
        "type": "object",
        "description": "Nothing to set: runs start from the ▶ Run button or POST /api/workflows/{id}/run/.",
        "additionalProperties": False,
        "properties": {},
    },
    Trigger.Kind.WEBHOOK: {
        "type": "object",
        "description": "Once saved, Details below shows the URL to call, with a copy button and a curl example.",
        "additionalProperties": False,
        "properties": {
            "auth": {
                "enum": list(AUTH_SCHEMES),
                "default": "token",
                "x-enum-labels": {scheme: SCHEMES.get(scheme, scheme) for scheme in AUTH_SCHEMES},
                "title": "Authentication",
                "description": "How a delivery proves it comes from the sender; set the secret under New secret.",
            },
            "header": {
                "type": "string",
                "x-show-if": {"auth": ["token", "hmac_sha256"]},
                "title": "Header",
                "description": "The header carrying the token or signature, if not X-Webhook-Token / X-Signature-256.",
            },
            "rate_per_minute": {
                "type": "integer",
                "minimum": 1,
                "title": "Deliveries a minute",
                "description": "More than this in a minute are answered 429; empty uses the site's limit.",
            },
            "filter": _filter('Start a run only when this holds, e.g. trigger.type == "customer.created".'),
        },
    },
    Trigger.Kind.SCHEDULE: {
        "type": "object",
        "description": "Kept in sync with a Celery Beat task; an occurrence runs once even if Beat fires twice.",
        "additionalProperties": False,
        "properties": {
            "cron": {
                "type": "string",
                "format": "cron",
                "examples": ["0 9 * * 1-5"],
                "title": "Cron",
                "description": "minute hour day-of-month month weekday (Celery's cron: Sunday is 0, both day fields "
                "must hold, no L/W/#), e.g. 0 9 * * 1-5 for weekdays at 09:00, or @daily.",
            },
            "every_seconds": {
                "type": "integer",
                "title": "Or every (seconds)",
                "description": "Instead of a cron expression: every this many seconds, at least 10.",
            },
            "timezone": {
                "type": "string",
                "x-suggestions": list(COMMON_TIME_ZONES),
                "default": "UTC",
                "title": "Time zone",
                "description": "The cron's hours are in this zone: pick a common one or type any IANA name.",
            },
            "start": {
                "type": "string",
                "format": "date-time",
                "examples": ["2026-12-01T09:00:00+01:00"],
                "title": "Not before",
                "description": "Optional: no runs before this ISO date-time.",
            },
            "end": {
                "type": "string",
                "format": "date-time",
                "examples": ["2027-06-30T18:00:00+02:00"],
                "title": "Not after",
                "description": "Optional: no runs after this ISO date-time.",
            },
            "input": {
                "type": "object",
                "title": "Input",
                "description": "What each run gets as trigger.*, as JSON.",
            },
        },
    },
    Trigger.Kind.EVENT: {
        "type": "object",
        "description": "Events come from POST /api/events/, from integrations and from the system itself.",
        "additionalProperties": False,
        "properties": {
            "type": {
                "type": "string",
                "x-suggestions": list(SYSTEM_EVENTS),
                "title": "Event type",
                "description": "The event that starts a run, e.g. invoice.overdue, or one of the system's own.",
            },
            "filter": _filter("Start a run only when this holds over the event, e.g. trigger.amount > 100."),
        },
    },
}


def config_schema(kind: str) -> dict:
    """The JSON Schema of a trigger kind's config (any object for an unknown kind)."""
    return CONFIG_SCHEMAS.get(kind, {"type": "object"})


def trigger_config_errors(kind: str, config: dict) -> dict[str, str]:
    """Problems with a trigger's config, keyed by field (config.cron, config.filter…)."""
    if not isinstance(config, dict):
        return {"config": "must be a JSON object"}
    errors = {}
    if kind == Trigger.Kind.SCHEDULE:
        errors.update(_schedule_errors(config))
    if kind == Trigger.Kind.EVENT and not config.get("type"):
        errors["config.type"] = "name the event type, e.g. execution.failed"
    if kind == Trigger.Kind.WEBHOOK and config.get("auth", "token") not in AUTH_SCHEMES:
        errors["config.auth"] = f"use one of {', '.join(AUTH_SCHEMES)}"
    if config.get("filter"):
        problems = expressions.check_syntax(config["filter"], condition=True)
        if problems:
            errors["config.filter"] = problems[0]
    return errors


# One cron grammar: Celery's crontab, the one Beat fires by. What it cannot parse is refused here, and the preview
# steps the same schedule object forward. Aliases are translated; there is no seconds or years field.
CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CRON_FIELDS = {
    "minute": "minute",
    "hour": "hour",
    "day_of_month": "day of month",
    "month_of_year": "month",
    "day_of_week": "weekday",
}
CRON_SYNTAX = (
    "numbers, names (mon, jan), * , ranges a-b, lists a,b and steps */n; weekdays 0-6 with Sunday 0; not L, W, # or ?"
)


class CronError(ValueError):
    """A cron the scheduler cannot fire; the message says which part and why."""


def cron_parts(cron) -> dict[str, str]:
    """The five fields of a cron (an @alias translated) as Celery's crontab takes them; raises CronError."""
    if not isinstance(cron, str) or not cron.strip():
        raise CronError("give a cron expression such as 0 9 * * 1-5 (minute hour day-of-month month weekday)")
    text = CRON_ALIASES.get(cron.strip().lower(), cron.strip())
    invalid = f"'{cron}' is not a valid cron expression: "
    if text.startswith("@"):
        raise CronError(f"{invalid}unknown alias '{cron}': use one of {', '.join(CRON_ALIASES)} or five fields")
    fields = text.split()
    if len(fields) != 5:
        raise CronError(
            f"{invalid}it has {len(fields)} fields; give five: minute hour day-of-month month weekday "
            "(no seconds or years field)"
        )
    parts = dict(zip(CRON_FIELDS, fields, strict=True))
    for name, value in parts.items():
        try:
            crontab(**{name: value})
        except ValueError as exc:
            detail = "" if "literal" in str(exc) else f" ({str(exc).rstrip('.')})"
            message = f"{invalid}{CRON_FIELDS[name]} '{value}' is not supported{detail}; use {CRON_SYNTAX}"
            raise CronError(message) from None
    return parts


def cron_schedule(config: dict) -> TzAwareCrontab:
    """The schedule Beat fires by for this config: django-celery-beat's time-zone-aware Celery crontab."""
    zone = zoneinfo.ZoneInfo(config.get("timezone") or "UTC")
    return TzAwareCrontab(**cron_parts(config["cron"]), tz=zone)


def _schedule_errors(config: dict) -> dict[str, str]:
    cron, every = config.get("cron"), config.get("every_seconds")
    if bool(cron) == bool(every):
        return {"config.cron": "give either a cron expression (e.g. 0 9 * * 1-5) or every_seconds"}
    if cron:
        try:
            cron_parts(cron)
        except CronError as exc:
            return {"config.cron": str(exc)}
    if every and (not isinstance(every, int) or every < 10):
        return {"config.every_seconds": "must be a whole number of seconds, at least 10"}
    try:
        zoneinfo.ZoneInfo(config.get("timezone") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return {"config.timezone": f"unknown time zone '{config.get('timezone')}'"}
    for field in ("start", "end"):
        if config.get(field):
            try:
                datetime.fromisoformat(config[field])
            except ValueError:
                return {f"config.{field}": "use an ISO date-time, e.g. 2026-12-01T09:00:00+01:00"}
    return {}


def next_runs(config: dict, count: int = 5, start: datetime | None = None) -> list[datetime]:
    """The next times Beat fires this schedule, in its time zone, for the admin's preview.

    A cron is Celery's crontab stepped forward as Beat steps it: after each run, the next is what the schedule
    says remains from that run (so both day fields are ANDed, as Celery does, and DST is Celery's).
    """
    zone = zoneinfo.ZoneInfo(config.get("timezone") or "UTC")
    base = (start or datetime.now(zone)).astimezone(zone)
    if config.get("every_seconds"):
        return [base + timedelta(seconds=config["every_seconds"] * i) for i in range(1, count + 1)]
    schedule, runs, moment = cron_schedule(config), [], base
    for _ in range(count):
        schedule.nowfun = lambda moment=moment: moment  # Beat asks at its last run's time what comes next
        last, delta, _now = schedule.remaining_delta(moment.astimezone(zone))
        moment = (last + delta).astimezone(UTC).astimezone(zone)
        runs.append(moment)
    return runs


@transaction.atomic
def trigger_sync(*, trigger: Trigger) -> Trigger:
    """Create, change, enable/disable or remove the PeriodicTask that fires a schedule trigger."""
    errors = trigger_config_errors(trigger.kind, trigger.config)
    if errors:
        raise ValidationError(errors)
    if trigger.kind != Trigger.Kind.SCHEDULE:
        _drop_task(trigger)
        return trigger
    task = trigger.periodic_task or PeriodicTask(task=FIRE_TASK)
    task.name = f"faos-trigger-{trigger.pk}: {trigger.workflow.name}"[:200]
    task.args = json.dumps([trigger.pk])
    task.enabled = trigger.is_enabled
    task.crontab, task.interval = _schedule(trigger.config)
    task.start_time = _moment(trigger.config.get("start"))
    task.expires = _moment(trigger.config.get("end"))
    task.save()
    if trigger.periodic_task_id != task.pk:
        Trigger.objects.filter(pk=trigger.pk).update(periodic_task=task)
        trigger.periodic_task = task
    return trigger


def _schedule(config: dict):
    if config.get("every_seconds"):
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=config["every_seconds"], period=IntervalSchedule.SECONDS
        )
        return None, interval
    cron, _ = CrontabSchedule.objects.get_or_create(
        **cron_parts(config["cron"]), timezone=zoneinfo.ZoneInfo(config.get("timezone") or "UTC")
    )
    return cron, None


def _moment(value: str | None):
    return datetime.fromisoformat(value) if value else None


def _drop_task(trigger: Trigger) -> None:
    if trigger.periodic_task_id:
        PeriodicTask.objects.filter(pk=trigger.periodic_task_id).delete()
        trigger.periodic_task = None


def occurrence_key(trigger: Trigger, fired_at: datetime) -> str:
    """The same scheduled occurrence gets the same key, so a double fire of Beat starts one run."""
    if trigger.config.get("every_seconds"):
        every = trigger.config["every_seconds"]
        slot = int(fired_at.timestamp()) // every * every
        return f"schedule:{trigger.pk}:{slot}"
    return f"schedule:{trigger.pk}:{fired_at.replace(second=0, microsecond=0).isoformat()}"
