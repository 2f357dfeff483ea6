"""`log`: write a message to the run's log (and the step's output)."""

import logging

from . import Action, register

logger = logging.getLogger("faos.workflow")
LEVELS = ("debug", "info", "warning", "error")


@register
class LogAction(Action):
    name = "log"
    pure = True
    example = {"message": "Reminder sent for invoice {{trigger.invoice.number}}", "level": "info"}
    label = "Log a message"
    input_schema = {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {"description": "What to log (any value; text may use {{ }})."},
            "level": {"enum": list(LEVELS), "default": "info", "description": "The log level."},
            "data": {"description": "Extra data kept with the step's output."},
        },
    }

    def run(self, inputs, ctx):
        level = inputs.get("level", "info")
        logger.log(
            logging.getLevelName(level.upper()),
            "execution %s step %s: %s",
            ctx.execution_id,
            ctx.step_key,
            inputs["message"],
        )
        return {"message": inputs["message"], "level": level, "data": inputs.get("data")}
