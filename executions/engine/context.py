"""The variables a step's expressions see, and the ports a step may call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from . import expressions
from .definition import StepDef
from .limits import RenderBudget


class EventPort(Protocol):
    """Finds events this run may react to; supplied by the Django side."""

    def since_start(self, event_type: str) -> list[dict]: ...


class WorkflowPort(Protocol):
    """Starts and inspects child runs for sub_workflow steps; supplied by the Django side."""

    def start(self, workflow: str | int, input: dict, *, ctx: StepContext) -> int: ...

    def status(self, execution_id: int) -> dict: ...


class ApprovalPort(Protocol):
    """Opens approvals and reads their state; supplied by the Django side."""

    def open(self, request: dict, *, ctx: StepContext) -> tuple[int, datetime | None]: ...

    def status(self, approval_id: int) -> dict: ...

    def remind_or_expire(self, approval_id: int) -> tuple[str, datetime | None]: ...


class AgentPort(Protocol):
    """Looks agents up and has them perform an agent action; supplied by the Django side."""

    def get(self, name: str) -> dict: ...

    def perform(self, name: str, request: dict, *, ctx: StepContext) -> dict: ...


class TaskPort(Protocol):
    """Creates human tasks and reads their state; supplied by the Django side."""

    def open(self, request: dict, *, ctx: StepContext) -> dict: ...

    def status(self, task_id: int) -> dict: ...


class ActionPort(Protocol):
    """Runs a named action (built-in or connector); supplied by the Django side."""

    def run(self, action: str, inputs: dict, *, ctx: StepContext) -> Any: ...


def trigger_vars(payload: Any, *, source: str, timestamp: str, headers: dict | None = None) -> dict:
    """`trigger.*`: the payload, when and whence; payload keys are also shortcuts (trigger.customer)."""
    shortcuts = payload if isinstance(payload, dict) else {}
    reserved = {"payload": payload, "source": source, "timestamp": timestamp, "headers": headers or {}}
    return {**shortcuts, **reserved}


def step_vars(*, result: Any, status: str, duration_ms: int | None, error: str, attempts: int) -> dict:
    """`<step_key>.*`: what later steps can read about a finished step."""
    return {
        "result": result,
        "status": status,
        "duration_ms": duration_ms,
        "error": error or None,
        "attempts": attempts,
    }


@dataclass
class StepContext:
    """Everything a step kind needs to run one attempt."""

    step: StepDef
    variables: dict
    actions: ActionPort | None = None
    events: EventPort | None = None
    workflows: WorkflowPort | None = None
    approvals: ApprovalPort | None = None
    agents: AgentPort | None = None
    tasks: TaskPort | None = None
    attempt: int = 1
    idempotency_key: str = ""
    test_mode: bool = False
    now: datetime | None = None
    timeout: float = 30.0
    extra: dict = field(default_factory=dict)
    input: Any = None  # the rendered input, recorded on the step run for debugging
    resume: dict | None = None  # what a step that waited left for itself when it parked
    fast_forward: bool = False  # test runs: waits end at once
    cleanup: Callable[[], None] | None = None  # called in the step's thread when it ends (close DB connections)
    render_budget: RenderBudget | None = None  # size and time all of this attempt's rendering may take
    # Called every heartbeat_every seconds while the attempt runs: keeps its lease; False = stop waiting for it.
    heartbeat: Callable[[], bool] | None = None
    heartbeat_every: float = 10.0

    def record_input(self, value: Any) -> Any:
        self.input = value
        return value

    def render(self, value: Any) -> Any:
        """Render `{{ … }}` placeholders in any config value, naming this step in errors; one budget per attempt."""
        if self.render_budget is None:
            self.render_budget = RenderBudget()
        return expressions.render(value, self.variables, step=self.step.key, budget=self.render_budget)

    def condition(self, text: str) -> bool:
        return expressions.evaluate_condition(text, self.variables, step=self.step.key)
