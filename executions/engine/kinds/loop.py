"""`loop`: run body steps for each item of a list, one by one (with a delay) or fanned out (with a cap)."""

from ..errors import StepError
from ..outcome import Decision, Outcome
from ..problems import Problem
from . import StepKind, register

MAX_ITEMS = 1000


@register
class LoopKind(StepKind):
    """config: {"items": "{{get_invoices.result.invoices}}", "steps": ["send_reminder", "log_action"],
    "mode": "sequential" | "parallel", "delay_seconds": 1, "concurrency": 5, "max_items": 1000}.

    Inside the body, {{item}} and {{index}} are the current item; the loop's result is the list of
    each item's last body-step result (fan-in).
    """

    name = "loop"
    label = "Loop (for each)"
    example = {
        "key": "each_invoice",
        "name": "For each overdue invoice",
        "config": {
            "items": "{{trigger.invoices}}",
            "steps": ["send_reminder", "log_action"],
            "mode": "sequential",
            "delay_seconds": 1,
        },
    }
    config_schema = {
        "type": "object",
        "required": ["items", "steps"],
        "additionalProperties": False,
        "properties": {
            "items": {
                "type": ["string", "array"],
                "minLength": 1,
                "title": "Items",
                "description": "The list to loop over, e.g. {{trigger.order.items}}.",
            },
            "steps": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "format": "step-key"},
                "title": "Steps",
                "description": "The steps to run for each item, in order; they read {{item}} and {{index}}.",
            },
            "mode": {
                "enum": ["sequential", "parallel"],
                "default": "sequential",
                "title": "Mode",
                "description": "One item at a time, or several at once.",
            },
            "delay_seconds": {
                "type": "number",
                "minimum": 0,
                "default": 0,
                "title": "Delay (seconds)",
                "description": "Pause between items.",
            },
            "concurrency": {
                "type": "integer",
                "minimum": 1,
                "default": 10,
                "title": "Concurrency",
                "description": "In parallel mode: at most this many items at once.",
            },
            "max_items": {
                "type": "integer",
                "minimum": 1,
                "default": MAX_ITEMS,
                "title": "Maximum items",
                "description": "Fail the step if the list is longer.",
            },
        },
    }

    def run(self, step, ctx):
        items = ctx.render(step.config.get("items"))
        if not isinstance(items, list):
            raise StepError(f"items must be a list, got {type(items).__name__}")
        limit = int(step.config.get("max_items") or MAX_ITEMS)
        if len(items) > limit:
            raise StepError(f"{len(items)} items is more than this loop's maximum of {limit}")
        ctx.record_input({"items": items})
        mode = step.config.get("mode", "sequential")
        cap = 1 if mode == "sequential" else max(1, int(step.config.get("concurrency") or 10))
        state = {
            "items": items,
            "count": len(items),
            "mode": mode,
            "cap": cap,
            "started": 0,
            "finished": [],
            "results": [None] * len(items),
            "delay": float(step.config.get("delay_seconds") or 0),
        }
        return Outcome.ok(state)

    def start(self, definition, step, outcome):
        state = outcome.result
        if not state["count"]:
            return None  # nothing to do: carry on after the loop
        first = tuple(range(min(state["cap"], state["count"])))
        return Decision(spawn=first)

    def on_lane_end(self, step, state, lane, result):
        if lane in state["finished"]:
            return state, Decision()
        results = list(state["results"])
        results[lane] = result
        finished = [*state["finished"], lane]
        started = max(state["started"], min(state["cap"], state["count"]))
        state = {**state, "finished": finished, "results": results, "started": started}
        if len(finished) == state["count"]:
            return state, Decision(container_done=True, output=results)
        if started < state["count"]:
            state["started"] = started + 1
            return state, Decision(spawn=(started,), spawn_delay=state["delay"])
        return state, Decision()

    def validate(self, step, definition):
        problems = []
        if not step.config.get("items"):
            problems.append(Problem(step.key, "config.items", "give the list to loop over, e.g. {{trigger.items}}"))
        body = step.config.get("steps")
        if not isinstance(body, list) or not body:
            problems.append(Problem(step.key, "config.steps", "list the steps to run for each item"))
        else:
            problems += [
                Problem(step.key, "config.steps", f"'{key}' is not a step of this workflow")
                for key in body
                if not definition.has_step(key)
            ]
        if step.config.get("mode", "sequential") not in ("sequential", "parallel"):
            problems.append(Problem(step.key, "config.mode", "use sequential or parallel"))
        return problems
