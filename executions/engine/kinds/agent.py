"""`agent`: an agent performs an action (classify, score, extract, draft a reply…) or uses a tool it may use."""

from ..errors import StepError
from ..outcome import Outcome
from ..problems import Problem
from . import StepKind, register

AGENT_ACTIONS = ("classify", "score", "extract", "draft_reply", "summarize", "decide", "custom")
PASSTHROUGH = ("labels", "rules", "default", "thresholds", "fields", "sentences", "schema", "question", "instruction")


def _action_is(action: str) -> dict:
    """A JSON Schema `if` that holds when the config's action is `action`."""
    return {"properties": {"action": {"const": action}}, "required": ["action"]}


def _field(actions: list[str], title: str, description: str, **schema) -> dict:
    """A config field that only `actions` read; `x-actions` tells the editor when to show it."""
    return {**schema, "title": title, "description": description, "x-actions": actions}


STRINGS = {"type": "array", "items": {"type": "string"}}
ACTION_FIELDS = {
    "labels": _field(["classify"], "Labels", "The labels to choose from.", minItems=1, **STRINGS),
    "rules": _field(
        ["classify"],
        "Keyword rules",
        'Label → keywords that point to it, e.g. {"critical": ["outage", "down"]}.',
        type="object",
        additionalProperties=STRINGS,
    ),
    "default": _field(
        ["classify", "score"],
        "Default label",
        "When no rule matches, or the score is below every threshold.",
        type="string",
    ),
    "criteria": _field(
        ["score"],
        "Criteria",
        'Points per rule, e.g. [{"if": "trigger.company_size > 100", "points": 30, "reason": "large company"}].',
        type="array",
        items={
            "type": "object",
            "required": ["if", "points"],
            "properties": {
                "if": {"type": "string", "format": "expression"},
                "points": {"type": "number"},
                "reason": {"type": "string"},
            },
        },
    ),
    "thresholds": _field(
        ["score"],
        "Thresholds",
        'Lowest score per label, e.g. {"hot": 70, "warm": 40}.',
        type="object",
        additionalProperties={"type": "number"},
    ),
    "fields": _field(
        ["extract"],
        "Fields",
        "Name → pattern (email, phone, number, url, amount or a regular expression).",
        type="object",
        additionalProperties={"type": "string"},
    ),
    "schema": _field(["custom"], "Output schema", "The JSON Schema the agent's answer must fit.", type="object"),
    "instruction": _field(["custom"], "Instruction", "What the agent should do.", type="string"),
    "template": _field(["draft_reply"], "Reply template", "The reply, with {{ }} placeholders.", type="string"),
    "subject": _field(["draft_reply"], "Subject", "The reply's subject line.", type="string"),
    "sentences": _field(["summarize"], "Sentences", "How long the summary is.", type="integer", minimum=1, default=2),
    "question": _field(["decide"], "Question", "The yes/no question.", type="string"),
    "yes_if": _field(
        ["decide"], "Yes if", "The rule that says yes, e.g. trigger.amount < 100.", type="string", format="expression"
    ),
}


@register
class AgentKind(StepKind):
    """config: {"agent": "Customer Service Agent", "action": "classify", "input": {"text": "{{trigger.body}}"},
    "labels": ["low", "medium", "high", "critical"], "rules": {"critical": ["outage", "down"]}}.

    score takes "criteria": [{"if": "trigger.company_size > 100", "points": 30, "reason": "large company"}] and
    "thresholds": {"hot": 70, "warm": 40}; draft_reply takes a "template"; decide takes "question" and "yes_if".
    Any other action (e.g. send_email) is a tool the agent must be allowed to use.
    """

    name = "agent"
    label = "Agent"
    example = {
        "key": "classify_ticket",
        "name": "Classify ticket urgency",
        "config": {
            "agent": "Customer Service Agent",
            "action": "classify",
            "input": {"text": "{{trigger.body}}"},
            "labels": ["low", "medium", "high", "critical"],
            "rules": {"critical": ["outage", "down"]},
        },
    }
    config_schema = {
        "type": "object",
        "required": ["agent", "action"],
        "additionalProperties": False,
        "allOf": [
            {"if": _action_is("classify"), "then": {"required": ["labels"]}},
            {"if": _action_is("score"), "then": {"required": ["thresholds"]}},
        ],
        "properties": {
            "agent": {
                "type": "string",
                "minLength": 1,
                "title": "Agent",
                "description": "The agent (Workflows → Agents) that performs this step.",
            },
            "action": {
                "type": "string",
                "minLength": 1,
                "examples": list(AGENT_ACTIONS),
                "title": "Action",
                "description": "What the agent does, or a tool it may use (e.g. send_email).",
            },
            "input": {
                "type": "object",
                "default": {},
                "title": "Input",
                "description": 'What the agent works on, e.g. {"text": "{{trigger.body}}"}; for a tool, its inputs.',
            },
            **ACTION_FIELDS,
        },
    }
    default_timeout = 120.0

    def run(self, step, ctx):
        config = step.config
        agent = ctx.agents.get(config["agent"])
        action = config["action"]
        if action not in agent["allowed_actions"]:
            allowed = ", ".join(agent["allowed_actions"]) or "nothing"
            raise StepError(f"permission error: agent '{agent['name']}' may not '{action}' (allowed: {allowed})")
        inputs = ctx.record_input(ctx.render(config.get("input") or {}))
        if action not in AGENT_ACTIONS:
            return Outcome.ok(ctx.actions.run(action, inputs, ctx=ctx))
        request = {"action": action, "input": inputs, **{k: config[k] for k in PASSTHROUGH if k in config}}
        request.update(self._prepared(step, ctx))
        return Outcome.ok(ctx.agents.perform(agent["name"], request, ctx=ctx))

    def _prepared(self, step, ctx) -> dict:
        """Parts the engine works out itself: criteria and decision rules are expressions, the draft a template."""
        config, extra = step.config, {}
        if config.get("criteria"):
            extra["criteria"] = [{**c, "met": ctx.condition(c["if"])} for c in config["criteria"]]
        if config.get("yes_if"):
            extra["rule_says_yes"] = ctx.condition(config["yes_if"])
        if config.get("template"):
            extra["template"] = ctx.render(config["template"])
        if config.get("subject"):
            extra["subject"] = ctx.render(config["subject"])
        return extra

    def validate(self, step, definition):
        problems = []
        for field in ("agent", "action"):
            if not step.config.get(field):
                problems.append(Problem(step.key, f"config.{field}", "is required"))
        if step.config.get("action") == "classify" and not step.config.get("labels"):
            problems.append(Problem(step.key, "config.labels", "list the labels to choose from"))
        if step.config.get("action") == "score" and not step.config.get("thresholds"):
            problems.append(Problem(step.key, "config.thresholds", 'give thresholds, e.g. {"hot": 70, "warm": 40}'))
        return problems

    def expressions(self, step):
        found = [
            (f"config.criteria[{i}].if", c.get("if", ""), True) for i, c in enumerate(step.config.get("criteria") or [])
        ]
        if step.config.get("yes_if"):
            found.append(("config.yes_if", step.config["yes_if"], True))
        return found + [
            e for e in super().expressions(step) if not e[0].startswith(("config.criteria", "config.yes_if"))
        ]
