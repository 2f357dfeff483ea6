"""The registry of actions a step can perform: one module per action (or connector) in this package."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from executions.engine.errors import StepError
from executions.engine.problems import Problem

CONNECTION_FIELD = "config.input.connection"  # where activation names a connection that does not exist yet
_LOADED: list[bool] = []  # set once every module of the package is imported
_REGISTRY: dict[str, Action] = {}


@dataclass
class ActionContext:
    """What an action may know about the attempt that runs it."""

    idempotency_key: str
    timeout: float
    test_mode: bool = False
    step_key: str = ""
    execution_id: int | None = None
    set_variables: dict = field(default_factory=dict)
    send_reads: bool = False  # test runs: let read-only calls through (default: record everything)
    sent: list = field(default_factory=list)  # outbound requests, credentials redacted, kept on the StepRun
    credentials: Callable[[str, str | None], dict] = field(default=lambda service, name: {}, repr=False)
    create_task: Callable[[dict], dict] | None = field(default=None, repr=False)  # the runtime's: a task for this run


class Action:
    """Base class of an action. Subclass in a new module of this package and decorate with @register.

    Example::

        @register
        class Echo(Action):
            name = "echo"
            label = "Echo the inputs"
            input_schema = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
            example = {"text": "Hello {{trigger.name}}"}

            def run(self, inputs, ctx):
                return {"text": inputs["text"]}

    Actions with side effects set `side_effect = True` and implement `describe()`: in test runs
    the request it would make is recorded instead of sent.
    """

    name: str = ""
    label: str = ""
    category: str = "Built-in"
    input_schema: dict = {"type": "object"}
    side_effect: bool = False
    external: bool = False  # talks to another system: test runs record even its reads unless asked to send them
    calls_model: bool = False  # calls a language model: routed to the `agents` queue like agent steps
    # Reads only its inputs and touches nothing outside the run (no network, no database, no files): its steps run
    # inline in the worker's thread and a chain of them is recorded in one write (like condition or switch steps).
    pure: bool = False
    default_timeout: float = 30.0
    example: dict | None = None
    """Inputs a step would give this action (`config.input`): docs/steps.md shows them and a test checks them."""

    def run(self, inputs: dict, ctx: ActionContext) -> Any:
        raise NotImplementedError

    def has_side_effect(self, inputs: dict) -> bool:
        """Whether this call changes something outside; test runs record such calls instead of sending them."""
        return self.side_effect

    def describe(self, inputs: dict, ctx: ActionContext) -> dict:
        """The exact request a side-effecting action would send, for test runs."""
        return {"action": self.name, "inputs": inputs}

    def recorded_inputs(self, inputs: dict) -> dict:
        """The inputs as the step run keeps them; actions whose inputs may carry credentials hide them here."""
        return inputs


def register(cls: type[Action]) -> type[Action]:
    """Class decorator adding an action to the registry."""
    _REGISTRY[cls.name] = cls()
    return cls


def get(name: str) -> Action | None:
    _load()
    return _REGISTRY.get(name)


def all_actions() -> list[Action]:
    _load()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def _load() -> None:
    if _LOADED:
        return
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    from .. import connectors  # connector modules register their actions here too

    connectors.load()
    _LOADED.append(True)


def recorded_inputs(name: str, inputs: dict) -> dict:
    """The inputs a step run records for this action (credentials typed into them redacted)."""
    action = get(name)
    return action.recorded_inputs(inputs) if action is not None and isinstance(inputs, dict) else inputs


def run_action(name: str, inputs: dict, ctx: ActionContext) -> Any:
    """Validate the inputs against the action's schema, then run it (or record it in a test run)."""
    action = get(name)
    if action is None:
        raise StepError(f"unknown action '{name}'")
    _check_inputs(action, inputs)
    if ctx.test_mode and _records(action, inputs, send_reads=ctx.send_reads):
        return {"test_mode": True, "would_send": action.describe(inputs, ctx)}
    return action.run(inputs, ctx)


def _records(action: Action, inputs: dict, *, send_reads: bool) -> bool:
    return action.has_side_effect(inputs) or (action.external and not send_reads)


def records_in_test(name: str, inputs: dict, *, send_reads: bool = False) -> bool:
    """Whether a test run records this call instead of sending it (a write, or a read unless reads are sent)."""
    action = get(name)
    return action is not None and isinstance(inputs, dict) and _records(action, inputs, send_reads=send_reads)


# A validator for each input schema, built once: building one costs more than checking a step's inputs with it.
_VALIDATORS: dict[int, tuple[dict, jsonschema.Draft202012Validator]] = {}


def _validator(schema: dict) -> jsonschema.Draft202012Validator:
    kept = _VALIDATORS.get(id(schema))
    if kept is None or kept[0] is not schema:  # (an id is reused only after its schema is gone)
        kept = _VALIDATORS[id(schema)] = (schema, jsonschema.Draft202012Validator(schema))
    return kept[1]


def _check_inputs(action: Action, inputs: dict) -> None:
    error = jsonschema.exceptions.best_match(_validator(action.input_schema).iter_errors(inputs))
    if error is not None:
        field = ".".join(str(p) for p in error.absolute_path) or "inputs"
        raise StepError(f"input '{field}' of action '{action.name}': {error.message}", detail={"field": field})


def check_step(step) -> list[Problem]:
    """Activation-time checks of an action step: the action exists and required inputs are given."""
    action = get(step.config.get("action", ""))
    if action is None:
        known = ", ".join(a.name for a in all_actions())
        return [Problem(step.key, "config.action", f"unknown action '{step.config.get('action')}' (known: {known})")]
    inputs = step.config.get("input") or {}
    missing = [k for k in action.input_schema.get("required", []) if k not in inputs or inputs[k] in ("", None)]
    problems = [Problem(step.key, f"config.input.{k}", "is required") for k in missing]
    service = getattr(action, "service", "")
    if service and not _has_connection(service, inputs.get("connection")):
        name = inputs.get("connection") or "any"
        problems.append(
            Problem(
                step.key,
                CONNECTION_FIELD,
                f"no {service} connection ({name}) yet: add one under Integrations → Connections",
            )
        )
    return problems


def _has_connection(service: str, name: str | None) -> bool:
    from ..models import Connection

    found = Connection.objects.filter(service=service)
    return (found.filter(name=name) if name and "{{" not in name else found).exists()
