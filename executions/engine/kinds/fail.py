"""`fail`: end the run as failed with a rendered message."""

from ..outcome import Outcome
from ..problems import Problem
from . import StepKind, register


@register
class FailKind(StepKind):
    """config: {"message": "Payment declined for {{trigger.customer.email}}"}."""

    name = "fail"
    inline = True
    label = "Fail"
    example = {
        "key": "payment_declined",
        "name": "Payment declined",
        "config": {"message": "Payment declined for {{trigger.customer.email}}"},
    }
    config_schema = {
        "type": "object",
        "required": ["message"],
        "additionalProperties": False,
        "properties": {
            "message": {
                "type": "string",
                "minLength": 1,
                "title": "Message",
                "description": "Why the workflow fails, e.g. Payment declined for {{trigger.customer.email}}.",
            },
        },
    }
    terminal = True

    def run(self, step, ctx):
        message = str(ctx.render(step.config.get("message") or "Stopped by a fail step"))
        return Outcome.ok({"message": message}, finish="failed")

    def validate(self, step, definition):
        if not step.config.get("message"):
            return [Problem(step.key, "config.message", "say why the workflow fails")]
        return []
