"""The registry of step kinds: one module per kind in this package, each registering itself."""

from __future__ import annotations

import importlib
import pkgutil

from ..context import StepContext
from ..definition import Definition, StepDef
from ..outcome import Outcome
from ..problems import Problem

_LOADED: list[bool] = []  # set once every module of the package is imported
_REGISTRY: dict[str, StepKind] = {}


class StepKind:
    """Base class of a step kind. Subclass it in a new module of this package and decorate with @register.

    Example::

        @register
        class Noop(StepKind):
            name = "noop"
            label = "Do nothing"
            example = {"key": "pause", "name": "Do nothing", "config": {}}

            def run(self, step, ctx):
                return Outcome.ok({"done": True})
    """

    name: str = ""
    label: str = ""
    default_timeout: float = 30.0
    terminal: bool = False  # True: the path ends here (complete, fail)
    # True: it reads only the run's variables and touches nothing outside, so the runtime runs it in the worker's
    # own thread (no lease, no timeout thread) and records a chain of such steps in one write.
    inline: bool = False
    branch_labels: tuple[str, ...] = ()  # labels this kind may choose, e.g. ("true", "false")
    config_schema: dict = {"type": "object"}  # JSON Schema (2020-12) of `config`: the editor's form and checks
    branches_note: str = ""  # how the branches are named when they are not a fixed list (switch: one per case)
    example: dict | None = None
    """One step of this kind as a definition writes it (key, name, config, and branches if it has them):
    docs/steps.md shows it and a test validates it against the config schema and the definition validator."""

    def run(self, step: StepDef, ctx: StepContext) -> Outcome:
        raise NotImplementedError

    def start(self, definition: Definition, step: StepDef, outcome: Outcome):
        """Containers (parallel, loop) return the Decision that starts their lanes; others None."""
        return None

    def on_lane_end(self, step: StepDef, state: dict, lane: int, result) -> tuple[dict, object]:
        """Containers: a lane ended; return the new state and a Decision (spawn, cancel, or carry on)."""
        raise NotImplementedError

    def validate(self, step: StepDef, definition: Definition) -> list[Problem]:
        """Kind-specific checks of `step.config`; the shared checks live in validation.py."""
        return []

    def expressions(self, step: StepDef) -> list[tuple[str, str, bool]]:
        """(field, text, is_condition) for every expression in the config, for syntax checks."""
        return [(f"config.{path}", text, False) for path, text in _strings(step.config)]


def register(cls: type[StepKind]) -> type[StepKind]:
    """Class decorator adding a kind to the registry."""
    _REGISTRY[cls.name] = cls()
    return cls


def get(name: str) -> StepKind | None:
    _load()
    return _REGISTRY.get(name)


def names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def _load() -> None:
    """Import every module of this package once, so adding a kind is adding a file."""
    if _LOADED:
        return
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    _LOADED.append(True)


def _strings(value, path: str = ""):
    """Yield (dotted path, text) for each string containing a placeholder."""
    if isinstance(value, str):
        if "{{" in value:
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
