"""`action`: run a built-in action or a connector action with rendered inputs."""

from .. import limits
from ..errors import StepError
from ..outcome import Outcome
from ..problems import Problem
from . import StepKind, register


@register
class ActionKind(StepKind):
    """config: {"action": "log", "input": {...}}; the result is what the action returns (old spelling: inputs)."""

    name = "action"
    label = "Action"
    example = {
        "key": "send_welcome",
        "name": "Send welcome email",
        "config": {
            "action": "send_email",
            "input": {
                "to": "{{trigger.customer.email}}",
                "subject": "Welcome, {{trigger.customer.name}}",
                "body": "Thanks for signing up.",
            },
        },
    }
    config_schema = {
        "type": "object",
        "required": ["action"],
        "additionalProperties": False,
        "properties": {
            "action": {
                "type": "string",
                "minLength": 1,
                "title": "Action",
                "description": "The built-in or connector action to run, e.g. send_email or slack.post_message.",
            },
            "input": {
                "type": "object",
                "title": "Input",
                "description": "The action's inputs; text may use {{trigger.field}} or {{step_key.result}}.",
                "default": {},
            },
        },
    }
    default_timeout = 30.0

    def run(self, step, ctx):
        inputs = ctx.record_input(ctx.render(step.config.get("input") or {}))
        if ctx.actions is None:
            raise StepError("no action runner is configured")
        result = ctx.actions.run(step.config["action"], inputs, ctx=ctx)
        if step.config["action"] == "set" and isinstance(result, dict):
            _check_variables({**(ctx.variables.get("vars") or {}), **result})
        return Outcome.ok(result)

    def validate(self, step, definition):
        action = step.config.get("action")
        if not action:
            return [Problem(step.key, "config.action", "choose the action this step performs")]
        if not isinstance(step.config.get("input", {}), dict):
            return [Problem(step.key, "config.input", "must be an object of input names to values")]
        return []


def _check_variables(merged: dict) -> None:
    """Every later step reads the run's variables: a `set` may not grow them past the limit."""
    why = limits.over(merged, limits.MAX_VARS)
    if why:
        raise StepError(f"after this `set` the run's variables {why} (the limit is {limits.MAX_VARS} characters)")
