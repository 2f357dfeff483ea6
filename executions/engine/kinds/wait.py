"""`wait`: pause the run for a duration or until a time; durable (a row with a wake-up time)."""

import re
from datetime import UTC, datetime, timedelta

from ..errors import StepError
from ..outcome import Outcome
from ..problems import Problem
from . import StepKind, register

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*([smhdw])\s*)+$")
PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(value) -> float:
    """Seconds from a number or a text such as "2d", "1h 30m", "45s"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and DURATION_RE.match(value):
        return sum(float(n) * UNITS[u] for n, u in PART_RE.findall(value))
    raise StepError(f"'{value}' is not a duration (use seconds or e.g. 2d, 1h 30m)")


def parse_time(value) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise StepError(f"'{value}' is not an ISO date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@register
class WaitKind(StepKind):
    """config: {"duration": "3d"} or {"seconds": 3600} or {"until": "{{trigger.renewal_date}}"}.

    In test runs with fast-forward on, the wait ends at once.
    """

    name = "wait"
    label = "Wait"
    example = {"key": "wait_3_days", "name": "Wait 3 days", "config": {"duration": "3d"}}
    config_schema = {
        "type": "object",
        "anyOf": [{"required": ["duration"]}, {"required": ["seconds"]}, {"required": ["until"]}],
        "additionalProperties": False,
        "properties": {
            "duration": {
                "type": ["string", "number"],
                "format": "duration",
                "title": "Duration",
                "description": "How long to wait, e.g. 3d or 1h 30m.",
            },
            "seconds": {
                "type": ["number", "string"],
                "minimum": 0,
                "title": "Seconds",
                "description": "Or how long in seconds.",
            },
            "until": {
                "type": "string",
                "title": "Until",
                "description": "Or until when: an ISO date-time, e.g. {{trigger.renewal_date}}.",
            },
        },
    }

    def run(self, step, ctx):
        now = ctx.now or datetime.now(UTC)
        if ctx.resume and "until" in ctx.resume:
            until = parse_time(ctx.resume["until"])
            if now >= until:
                return Outcome.ok({"waited_until": ctx.resume["until"]})
            return Outcome.waiting(until, {"until": ctx.resume["until"]})
        until = self._until(step, ctx, now)
        ctx.record_input({"until": until.isoformat()})
        if ctx.fast_forward or until <= now:
            return Outcome.ok({"waited_until": until.isoformat(), "fast_forwarded": ctx.fast_forward})
        return Outcome.waiting(until, {"until": until.isoformat()})

    def _until(self, step, ctx, now) -> datetime:
        config = ctx.render(step.config)
        if config.get("until"):
            return parse_time(config["until"])
        return now + timedelta(seconds=parse_duration(config.get("duration", config.get("seconds"))))

    def validate(self, step, definition):
        config = step.config
        if not any(config.get(k) not in (None, "") for k in ("duration", "seconds", "until")):
            return [Problem(step.key, "config.duration", "say how long to wait (e.g. 3d) or until when")]
        for key in ("duration", "seconds"):
            value = config.get(key)
            if value not in (None, "") and not (isinstance(value, str) and "{{" in value):
                try:
                    parse_duration(value)
                except StepError as exc:
                    return [Problem(step.key, f"config.{key}", str(exc))]
        return []
