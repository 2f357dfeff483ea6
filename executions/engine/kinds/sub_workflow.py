"""`sub_workflow`: start another workflow's active version with an input, wait for it, use its output."""

from datetime import UTC, datetime, timedelta

from ..errors import StepError
from ..outcome import Outcome
from ..problems import Problem
from . import StepKind, register
from .wait import parse_duration, parse_time

FINISHED = ("succeeded", "failed", "cancelled", "timed_out")


@register
class SubWorkflowKind(StepKind):
    """config: {"workflow": "Invoice Collection", "input": {"invoice": "{{item}}"}, "wait": true, "timeout": "1d"}.

    With wait (the default) the step's result is the child run's output; a failed child fails the step.
    """

    name = "sub_workflow"
    label = "Sub-workflow"
    example = {
        "key": "collect_invoice",
        "name": "Collect the invoice",
        "config": {
            "workflow": "Invoice Collection",
            "input": {"invoice": "{{trigger.invoice}}"},
            "wait": True,
            "timeout": "1d",
        },
    }
    config_schema = {
        "type": "object",
        "required": ["workflow"],
        "additionalProperties": False,
        "properties": {
            "workflow": {
                "type": "string",
                "minLength": 1,
                "title": "Workflow",
                "description": "The name of the workflow to run; its active version is used.",
            },
            "input": {
                "type": "object",
                "default": {},
                "title": "Input",
                "description": 'The child run\'s input, e.g. {"invoice": "{{item}}"}.',
            },
            "wait": {
                "type": "boolean",
                "default": True,
                "title": "Wait for it",
                "description": "Wait for the child run and use its output; off: start it and carry on.",
            },
            "timeout": {
                "type": ["string", "number"],
                "format": "duration",
                "default": "1d",
                "title": "Time-out",
                "description": "Fail the step if the child has not finished by then, e.g. 1d.",
            },
        },
    }

    def run(self, step, ctx):
        resume = ctx.resume or {}
        if resume.get("child_id"):
            return self._resumed(ctx, resume)
        config = ctx.record_input(
            ctx.render({"workflow": step.config["workflow"], "input": step.config.get("input") or {}})
        )
        if not isinstance(config["input"], dict):
            raise StepError("the sub-workflow input must be an object")
        child_id = ctx.workflows.start(config["workflow"], config["input"], ctx=ctx)
        if step.config.get("wait", True) is False:
            return Outcome.ok({"execution_id": child_id})
        finished = self._finished(ctx, child_id)
        if finished:
            return finished
        now = ctx.now or datetime.now(UTC)
        until = now + timedelta(seconds=parse_duration(ctx.render(step.config.get("timeout") or "1d")))
        return Outcome.waiting(until, {"child_id": child_id, "until": until.isoformat()}, waiting_for="subworkflow")

    def _resumed(self, ctx, resume):
        finished = self._finished(ctx, resume["child_id"])
        if finished:
            return finished
        if (ctx.now or datetime.now(UTC)) >= parse_time(resume["until"]):
            return Outcome.failed(f"sub-workflow run #{resume['child_id']} did not finish in time")
        return Outcome.waiting(parse_time(resume["until"]), resume, waiting_for="subworkflow")

    def _finished(self, ctx, child_id):
        child = ctx.workflows.status(child_id)
        if child["status"] not in FINISHED:
            return None
        if child["status"] == "succeeded":
            return Outcome.ok(child["output"])
        return Outcome.failed(
            f"sub-workflow run #{child_id} {child['status']}: {child['error']}", detail={"execution_id": child_id}
        )

    def validate(self, step, definition):
        if not step.config.get("workflow"):
            return [Problem(step.key, "config.workflow", "name the workflow to run")]
        return []
