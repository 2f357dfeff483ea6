"""`task`: create a task for a person (with a checklist), optionally waiting until it is done."""

from datetime import UTC, datetime, timedelta

from ..outcome import Outcome
from ..problems import Problem
from . import StepKind, register

FOREVER = timedelta(days=3650)


@register
class TaskKind(StepKind):
    """config: {"title": "Review {{trigger.invoice.number}}", "description": "…", "assignee": "maria" or
    "group": "Accounts", "due": "2d", "checklist": ["Call customer", "Update CRM"], "wait": false}.

    With wait, the run pauses (no worker held) until someone marks the task done; its result says who and when.
    """

    name = "task"
    label = "Human task"
    example = {
        "key": "review_invoice",
        "name": "Review the invoice",
        "config": {
            "title": "Review invoice {{trigger.invoice.number}}",
            "group": "Accounts",
            "due": "2d",
            "checklist": ["Call customer", "Update CRM"],
            "wait": True,
        },
    }
    config_schema = {
        "type": "object",
        "required": ["title"],
        "anyOf": [{"required": ["assignee"]}, {"required": ["group"]}],
        "additionalProperties": False,
        "properties": {
            "title": {"type": "string", "minLength": 1, "title": "Title", "description": "What needs doing."},
            "description": {"type": "string", "title": "Description", "description": "Details for the assignee."},
            "assignee": {"type": "string", "title": "Assignee", "description": "User name of the person to do it."},
            "group": {"type": "string", "title": "Group", "description": "Or a group whose members may do it."},
            "due": {
                "type": ["string", "number"],
                "format": "duration",
                "title": "Due in",
                "description": "e.g. 2d or 4h.",
            },
            "checklist": {
                "type": "array",
                "items": {"type": "string"},
                "title": "Checklist",
                "description": "Items to tick off.",
            },
            "wait": {
                "type": "boolean",
                "default": False,
                "title": "Wait until done",
                "description": "Pause the run until someone marks the task done.",
            },
        },
    }

    def run(self, step, ctx):
        resume = ctx.resume or {}
        if resume.get("task_id"):
            state = ctx.tasks.status(resume["task_id"])
            if state["status"] != "open":
                return Outcome.ok(state)
            return self._park(ctx, state)
        request = ctx.record_input(ctx.render({k: v for k, v in step.config.items() if k != "wait"}))
        if ctx.test_mode:
            return Outcome.ok({"test_mode": True, "would_create": request})
        state = ctx.tasks.open(request, ctx=ctx)
        return self._park(ctx, state) if step.config.get("wait") else Outcome.ok(state)

    def _park(self, ctx, state):
        now = ctx.now or datetime.now(UTC)
        return Outcome.waiting(now + FOREVER, {"task_id": state["task_id"]}, waiting_for="task")

    def validate(self, step, definition):
        problems = []
        if not step.config.get("title"):
            problems.append(Problem(step.key, "config.title", "say what needs doing"))
        if not step.config.get("assignee") and not step.config.get("group"):
            problems.append(Problem(step.key, "config.assignee", "assign it to a person or a group"))
        return problems
