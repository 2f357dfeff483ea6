"""Which past runs a replay takes: the last N, by status, date or trigger, the failed ones, or runs named by id."""

from __future__ import annotations

from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from executions.models import Execution

MAX_RUNS = 500  # runs per replay: a bigger look back is several replays
DEFAULT_LAST = 20
FIELDS = ("last", "status", "failed", "since", "until", "trigger", "executions")
FINISHED = tuple(str(s) for s in Execution.FINISHED)


def selection_clean(data) -> dict:
    """The selection as the replay keeps it; a ValidationError naming each bad field otherwise."""
    if not isinstance(data, dict):
        raise ValidationError({"selection": 'Send a JSON object, e.g. {"last": 20} or {"failed": true}.'})
    errors = {name: "Unknown field." for name in sorted(set(data) - set(FIELDS))}
    clean, checks = {}, (_last, _status, _failed, _when("since"), _when("until"), _trigger, _executions)
    for check in checks:
        try:
            clean.update(check(data))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if clean.get("since") and clean.get("until") and clean["since"] > clean["until"]:
        raise ValidationError({"until": "Must be after since."})
    return clean


def _whole(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ValidationError({field: f"Must be a whole number from {low} to {high}."})
    number = int(value)
    if not low <= number <= high:
        raise ValidationError({field: f"Must be a whole number from {low} to {high}."})
    return number


def _last(data: dict) -> dict:
    if data.get("last") in (None, ""):
        return {} if data.get("executions") else {"last": DEFAULT_LAST}
    return {"last": _whole(data["last"], "last", 1, MAX_RUNS)}


def _status(data: dict) -> dict:
    value = data.get("status")
    if value in (None, "", []):
        return {}
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v in FINISHED for v in values):
        raise ValidationError({"status": f"Each status must be one of {', '.join(FINISHED)}."})
    return {"status": sorted(set(values))}


def _failed(data: dict) -> dict:
    value = data.get("failed")
    if value in (None, False, "", "false"):
        return {}
    if value not in (True, "true", "on", "1"):
        raise ValidationError({"failed": "Must be true or false."})
    return {"failed": True}


def _when(field: str):
    def check(data: dict) -> dict:
        value = data.get(field)
        if value in (None, ""):
            return {}
        parsed = None
        if isinstance(value, str):
            parsed = _datetime(value.strip(), end=field == "until")
        if parsed is None:
            raise ValidationError({field: "Must be a date (2025-05-01) or a date and time (2025-05-01T09:00:00Z)."})
        return {field: parsed.isoformat()}

    return check


def _datetime(text: str, *, end: bool) -> datetime | None:
    try:
        moment = parse_datetime(text)
        day = None if moment else parse_date(text)
    except ValueError:
        return None
    if day is not None:
        moment = datetime.combine(day, time.max if end else time.min)  # a day's `until` includes that day
    if moment is None:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _trigger(data: dict) -> dict:
    value = data.get("trigger")
    if value in (None, ""):
        return {}
    if not isinstance(value, str) or len(value) > 16 or not value.replace("_", "").isalnum():
        raise ValidationError({"trigger": "Must be a trigger kind, e.g. webhook, schedule, manual or api."})
    return {"trigger": value}


def _executions(data: dict) -> dict:
    value = data.get("executions")
    if value in (None, "", []):
        return {}
    if not isinstance(value, list) or len(value) > MAX_RUNS:
        raise ValidationError({"executions": f"Must be a list of at most {MAX_RUNS} run ids."})
    return {"executions": sorted({_whole(v, "executions", 1, 2**63 - 1) for v in value})}


def candidates(workflow, selection: dict) -> QuerySet[Execution]:
    """The finished live runs of `workflow` that match, newest first (at most `last`)."""
    runs = Execution.objects.filter(workflow=workflow, is_test=False, status__in=FINISHED)
    if selection.get("failed"):
        runs = runs.filter(status__in=("failed", "timed_out"))
    if selection.get("status"):
        runs = runs.filter(status__in=selection["status"])
    if selection.get("since"):
        runs = runs.filter(created_at__gte=selection["since"])
    if selection.get("until"):
        runs = runs.filter(created_at__lte=selection["until"])
    if selection.get("trigger"):
        runs = runs.filter(trigger_kind=selection["trigger"])
    if selection.get("executions"):
        runs = runs.filter(pk__in=selection["executions"])
    runs = runs.order_by("-created_at", "-id")
    return runs[: selection.get("last") or MAX_RUNS]


def unknown_runs(workflow, selection: dict) -> list[int]:
    """Run ids named in the selection that are not finished live runs of this workflow."""
    named = selection.get("executions") or []
    found = set(
        Execution.objects.filter(workflow=workflow, is_test=False, status__in=FINISHED, pk__in=named).values_list(
            "pk", flat=True
        )
    )
    return [pk for pk in named if pk not in found]
