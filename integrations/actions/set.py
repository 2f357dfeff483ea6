"""`set`: store values as run variables, readable later as {{vars.<name>}}."""

from . import Action, register


@register
class SetAction(Action):
    name = "set"
    pure = True
    example = {"rounds": 0, "status": "pending"}
    label = "Set variables"
    input_schema = {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "description": "Variable name (letters, digits, _) → value; later steps read it as {{vars.<name>}}.",
    }

    def run(self, inputs, ctx):
        ctx.set_variables.update(inputs)
        return dict(inputs)
