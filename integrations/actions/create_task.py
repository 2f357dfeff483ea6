"""`create_task`: the same human task as the `task` step, usable as an action (e.g. by an agent)."""

from . import Action, register


@register
class CreateTaskAction(Action):
    name = "create_task"
    example = {
        "title": "Call {{trigger.customer.name}} about invoice {{trigger.invoice.number}}",
        "group": "Accounts",
        "due": "2d",
        "checklist": ["Call customer", "Update CRM"],
    }
    label = "Create a task for a person"
    side_effect = True
    input_schema = {
        "type": "object",
        "required": ["title"],
        "anyOf": [{"required": ["assignee"]}, {"required": ["group"]}],
        "properties": {
            "title": {"type": "string", "minLength": 1, "description": "What needs doing."},
            "description": {"type": "string", "description": "Details for the assignee."},
            "assignee": {"type": "string", "description": "User name of the person to do it."},
            "group": {"type": "string", "description": "Or a group whose members may do it."},
            "due": {"type": ["string", "number"], "format": "duration", "description": "Due in, e.g. 2d or 4h."},
            "checklist": {"type": "array", "items": {"type": "string"}, "description": "Items to tick off."},
        },
    }

    def run(self, inputs, ctx):
        if ctx.create_task is None:
            raise RuntimeError("create_task needs the runtime's task port (ActionContext.create_task)")
        return ctx.create_task(inputs)  # the runtime opens it for this run (executions.runtime.ports); no import back
