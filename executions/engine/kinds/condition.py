"""`condition`: evaluate a true/false expression and follow the matching branch."""

from ..outcome import Outcome
from ..problems import Problem
from . import StepKind, register


@register
class ConditionKind(StepKind):
    """config: {"expression": '{{trigger.customer.plan}} === "premium"'}; branches: {"true": …, "false": …}."""

    name = "condition"
    inline = True
    label = "Condition"
    example = {
        "key": "check_plan",
        "name": "Check plan type",
        "config": {"expression": '{{trigger.customer.plan}} == "premium"'},
        "branches": {"true": "premium_onboarding", "false": "standard_onboarding"},
    }
    config_schema = {
        "type": "object",
        "required": ["expression"],
        "additionalProperties": False,
        "properties": {
            "expression": {
                "type": "string",
                "minLength": 1,
                "format": "expression",
                "title": "Condition",
                "description": 'True or false, e.g. trigger.amount > 100 or {{trigger.plan}} == "premium".',
            },
        },
    }
    branch_labels = ("true", "false")

    def run(self, step, ctx):
        ctx.record_input({"expression": step.config["expression"]})
        value = ctx.condition(step.config["expression"])
        return Outcome.ok({"value": value}, branch="true" if value else "false")

    def validate(self, step, definition):
        if not step.config.get("expression"):
            return [Problem(step.key, "config.expression", "write the condition, e.g. {{trigger.amount}} > 100")]
        return []

    def expressions(self, step):
        return [("config.expression", step.config.get("expression") or "", True)]
