"""`switch`: n-way branch on a value (the guide's hot / warm / cold lead)."""

from ..outcome import Outcome
from ..problems import Problem
from . import StepKind, register


@register
class SwitchKind(StepKind):
    """config: {"value": "{{score.result.label}}"}; branches: {"hot": "notify_rep", "warm": …, "default": …}.

    A value with no branch of its own takes "default", or falls through to the following step.
    """

    name = "switch"
    inline = True
    label = "Switch (n-way branch)"
    example = {
        "key": "route_lead",
        "name": "Route by rating",
        "config": {"value": "{{trigger.lead.rating}}"},
        "branches": {"hot": "notify_rep", "warm": "nurture", "default": "long_term_follow_up"},
    }
    branches_note = "one branch per value of `value` (e.g. hot, warm, cold), plus default for any other"
    config_schema = {
        "type": "object",
        "required": ["value"],
        "additionalProperties": False,
        "properties": {
            "value": {
                "type": ["string", "number", "boolean"],
                "minLength": 1,
                "title": "Value",
                "description": "The value to switch on, e.g. {{score.result.label}}; each case is a branch.",
            },
        },
    }

    def run(self, step, ctx):
        value = ctx.render(step.config["value"])
        ctx.record_input({"value": value})
        label = str(value).lower() if isinstance(value, bool) else str(value)
        branch = label if label in step.branches and label != "default" else "default"
        return Outcome.ok({"value": value, "case": branch}, branch=branch)

    def validate(self, step, definition):
        problems = []
        if not step.config.get("value"):
            problems.append(
                Problem(step.key, "config.value", "give the value to switch on, e.g. {{score.result.label}}")
            )
        if not step.branches:
            problems.append(Problem(step.key, "branches", 'map each case to a step, e.g. {"hot": "notify_rep"}'))
        return problems
