"""`parallel`: run branches at once on different workers and join them (all, any, or n of them)."""

from ..definition import lanes_of
from ..outcome import Decision, Outcome
from ..problems import Problem
from . import StepKind, register


def needed(join, branches: int) -> int:
    """How many branches must finish before the parallel step carries on."""
    if join in (None, "", "all"):
        return branches
    if join == "any":
        return 1
    return max(1, min(int(join), branches))


@register
class ParallelKind(StepKind):
    """config: {"branches": [["assign_manager"], ["schedule_call", "send_invite"]], "join": "all" | "any" | 2}.

    Each branch is a list of step keys run in order; the branches run concurrently. Their steps'
    results stay addressable afterwards ({{assign_manager.result}}); the parallel step's own result
    says which branches finished.
    """

    name = "parallel"
    label = "Parallel"
    example = {
        "key": "premium_setup",
        "name": "Premium set-up",
        "config": {"branches": [["assign_manager"], ["schedule_call", "send_resources"]], "join": "all"},
    }
    config_schema = {
        "type": "object",
        "required": ["branches"],
        "additionalProperties": False,
        "properties": {
            "branches": {
                "type": "array",
                "minItems": 2,
                "items": {
                    "anyOf": [
                        {"type": "array", "items": {"type": "string", "format": "step-key"}},
                        {"type": "string", "format": "step-key"},
                    ]
                },
                "title": "Branches",
                "description": "Each branch is a list of step keys run in order; the branches run at the same time.",
            },
            "join": {
                "anyOf": [{"enum": ["all", "any"]}, {"type": "integer", "minimum": 1}],
                "default": "all",
                "title": "Carry on when",
                "description": "all branches finished, any one, or this many.",
            },
        },
    }
    default_timeout = 10.0

    def run(self, step, ctx):
        branches = lanes_of(step)
        join = step.config.get("join", "all")
        ctx.record_input({"branches": branches, "join": join})
        return Outcome.ok(
            {"branches": len(branches), "join": join, "needed": needed(join, len(branches)), "finished": []}
        )

    def start(self, definition, step, outcome):
        return Decision(next=tuple(lane[0] for lane in lanes_of(step) if lane))

    def on_lane_end(self, step, state, lane, result):
        if lane in state["finished"] or len(state["finished"]) >= state["needed"]:
            return state, Decision()  # already joined (an "any" loser that got through)
        state = {**state, "finished": [*state["finished"], lane]}
        if len(state["finished"]) < state["needed"]:
            return state, Decision()
        others = tuple(i for i in range(state["branches"]) if i not in state["finished"])
        return state, Decision(container_done=True, cancel_lanes=others)

    def validate(self, step, definition):
        branches = step.config.get("branches")
        if not isinstance(branches, list) or len(branches) < 2:
            return [Problem(step.key, "config.branches", "give at least two branches, each a list of step keys")]
        problems = []
        for number, lane in enumerate(lanes_of(step)):
            if not lane:
                problems.append(Problem(step.key, f"config.branches[{number}]", "an empty branch does nothing"))
            problems += [
                Problem(step.key, f"config.branches[{number}]", f"'{key}' is not a step of this workflow")
                for key in lane
                if not definition.has_step(key)
            ]
        join = step.config.get("join", "all")
        if join not in ("all", "any") and not (isinstance(join, int) and 1 <= join <= len(branches)):
            problems.append(Problem(step.key, "config.join", f"use all, any, or a number from 1 to {len(branches)}"))
        return problems
