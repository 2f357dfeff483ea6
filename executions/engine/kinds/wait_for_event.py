"""`wait_for_event`: wait until a matching event arrives (branch on_event) or a timeout (on_timeout)."""

from datetime import UTC, datetime, timedelta

from .. import expressions
from ..outcome import Outcome
from ..problems import Problem
from . import StepKind, register
from .wait import parse_duration, parse_time


@register
class WaitForEventKind(StepKind):
    """config: {"event": "proposal.replied", "match": "event.data.proposal_id == trigger.proposal_id",
    "timeout": "3d"}; branches: {"on_event": "schedule_meeting", "on_timeout": "second_follow_up"}.

    `event` (type, data, source, created_at) is readable in `match` and, after the step, as
    {{<key>.result.event}}. Events that arrived after the run started count too.
    """

    name = "wait_for_event"
    label = "Wait for event"
    example = {
        "key": "await_reply",
        "name": "Wait for a reply",
        "config": {
            "event": "proposal.replied",
            "match": "event.data.proposal_id == trigger.proposal_id",
            "timeout": "3d",
        },
        "branches": {"on_event": "schedule_meeting", "on_timeout": "second_follow_up"},
    }
    config_schema = {
        "type": "object",
        "required": ["event"],
        "additionalProperties": False,
        "properties": {
            "event": {
                "type": "string",
                "minLength": 1,
                "title": "Event type",
                "description": "The event to wait for, e.g. proposal.replied.",
            },
            "match": {
                "type": "string",
                "format": "expression",
                "title": "Match",
                "description": "Which event counts, e.g. event.data.proposal_id == trigger.proposal_id.",
            },
            "timeout": {
                "type": ["string", "number"],
                "format": "duration",
                "default": "7d",
                "title": "Time-out",
                "description": "Give up after this long (branch on_timeout), e.g. 3d.",
            },
        },
    }
    branch_labels = ("on_event", "on_timeout")

    def run(self, step, ctx):
        now = ctx.now or datetime.now(UTC)
        resume = ctx.resume or {}
        if resume.get("event"):
            return Outcome.ok({"event": resume["event"], "timed_out": False}, branch="on_event")
        event_type = ctx.render(step.config["event"])
        early = self._earliest_match(step, ctx, event_type)
        if early:
            return Outcome.ok({"event": early, "timed_out": False}, branch="on_event")
        until = parse_time(resume["until"]) if resume.get("until") else self._deadline(step, ctx, now)
        ctx.record_input({"event": event_type, "until": until.isoformat()})
        if now >= until or ctx.fast_forward:
            return Outcome.ok({"event": None, "timed_out": True}, branch="on_timeout")
        return Outcome.waiting(until, {"until": until.isoformat(), "event_type": event_type}, waiting_for=event_type)

    def _deadline(self, step, ctx, now):
        return now + timedelta(seconds=parse_duration(ctx.render(step.config.get("timeout") or "7d")))

    def _earliest_match(self, step, ctx, event_type):
        for event in ctx.events.since_start(event_type) if ctx.events else []:
            if matches(step, ctx.variables, event):
                return event
        return None

    def validate(self, step, definition):
        if not step.config.get("event"):
            return [Problem(step.key, "config.event", "name the event type to wait for, e.g. proposal.replied")]
        return []

    def expressions(self, step):
        found = [("config.match", step.config["match"], True)] if step.config.get("match") else []
        return found + [(f, t, c) for f, t, c in super().expressions(step) if f != "config.match"]


def matches(step, variables: dict, event: dict) -> bool:
    """Does this event satisfy the step's match expression (no expression: any event of the type)?"""
    match = step.config.get("match")
    if not match:
        return True
    return expressions.evaluate_condition(match, {**variables, "event": event}, step=step.key)
