"""What a step can reference: shown beside the step in the editor so nobody has to guess names."""

from __future__ import annotations

from functools import lru_cache

from executions.engine.definition import Definition
from executions.engine.validation import ancestors, step_graph

from .models import Step
from .services import workflow_definition

WORKFLOW = ["workflow.id", "workflow.name", "workflow.version", "workflow.execution_id", "workflow.started_at"]
STEP_FIELDS = ("result", "status", "duration_ms", "error", "attempts")


def _paths(value, prefix: str, depth: int = 4) -> list[str]:  # 4: Stripe nests trigger.data.object.metadata.plan
    if not isinstance(value, dict) or depth == 0:
        return [prefix]
    found = [prefix]
    for key, item in value.items():
        found += _paths(item, f"{prefix}.{key}", depth - 1)
    return found


@lru_cache(maxsize=32)
def _analysed(workflow_pk: int, updated_at: str) -> tuple[Definition, dict]:
    """The draft and who-can-run-before-whom, once per saved state of a workflow (the editor asks per step)."""
    from .models import Workflow

    definition = Definition.from_dict(workflow_definition(workflow=Workflow.objects.get(pk=workflow_pk)))
    return definition, ancestors(step_graph(definition))


def available_variables(step: Step) -> list[str]:
    """trigger.* from the sample input, steps that can have run before this one, workflow.*, vars.*, item."""
    workflow = step.workflow
    definition, runs_before = _analysed(workflow.pk, workflow.updated_at.isoformat())
    names = ["trigger.payload", "trigger.timestamp", "trigger.source"]
    names += [p for p in _paths(workflow.sample_input or {}, "trigger")[1:]][:40]
    if definition.has_step(step.key):
        before = runs_before.get(step.key, set())
        for earlier in definition.steps:
            if earlier.key in before:
                names += [f"{earlier.key}.{field}" for field in STEP_FIELDS[:2]]
                if earlier.kind == "action" and earlier.config.get("action") == "set":
                    names += [f"vars.{k}" for k in (earlier.config.get("input") or {})]
        lane = definition.lane_end(definition.step(step.key))
        if lane and definition.step(lane.owner).kind == "loop":
            names += ["item", "index"]
    return names + WORKFLOW
