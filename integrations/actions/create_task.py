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
            "title": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "assignee": {"type": "string"},
            "group": {"type": "string"},
            "due": {"type": ["string", "number"]},
            "checklist": {"type": "array", "items": {"type": "string"}},
        },
    }

    def run(self, inputs, ctx):
        from executions.models import Execution
        from executions.tasks_service import task_create, task_state

        execution = Execution.objects.filter(pk=ctx.execution_id).first()
        return task_state(task_create(request=inputs, execution=execution))
