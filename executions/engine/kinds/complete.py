"""`complete`: end the run successfully with an optional output."""

from ..outcome import Outcome
from . import StepKind, register


@register
class CompleteKind(StepKind):
    """config: {"output": <any, rendered>}."""

    name = "complete"
    inline = True
    label = "Complete"
    example = {
        "key": "done",
        "name": "Done",
        "config": {"output": {"customer": "{{trigger.customer.email}}", "onboarded": True}},
    }
    config_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "output": {
                "title": "Output",
                "description": 'The run\'s output (any JSON), e.g. {"status": "{{check.result.status}}"}.',
            },
        },
    }
    terminal = True

    def run(self, step, ctx):
        return Outcome.ok(ctx.record_input(ctx.render(step.config.get("output"))), finish="succeeded")
