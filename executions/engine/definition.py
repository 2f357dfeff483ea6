"""Definitions as the engine sees them: parsed from the JSON a WorkflowVersion stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .spelling import canonical_config, canonical_step

FORMAT_VERSION = 1
END = "end"  # a `next` of "end" finishes the path explicitly


@dataclass(frozen=True)
class RetryPolicy:
    """How a step's retryable failures are tried again: exponential back-off with optional jitter."""

    max_attempts: int = 3
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 300.0
    jitter: bool = True

    def delay(self, attempt: int, *, retry_after: float | None = None, rand: float = 1.0) -> float:
        """Seconds to wait before attempt `attempt + 1`; `rand` in [0, 1] feeds the jitter."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        if self.jitter:
            base = base * (0.5 + rand / 2)  # "equal jitter": at least half the delay, never more than it
        if retry_after is not None:
            base = max(base, retry_after)  # the server said when; never come back sooner
        return base


@dataclass(frozen=True)
class StepDef:
    """One step of a definition."""

    key: str
    name: str
    kind: str
    config: dict = field(default_factory=dict)
    next: str | None = None
    branches: dict = field(default_factory=dict)
    timeout_seconds: float | None = None
    on_error: str = "stop"
    on_error_goto: str | None = None
    retry: RetryPolicy = RetryPolicy()
    position: int = 0

    @classmethod
    def from_dict(cls, data: dict, position: int) -> StepDef:
        """Build from the exported form (old spellings read too); unknown keys are ignored, missing ones defaulted."""
        data = canonical_step(data)[0]
        retry = data.get("retry") or {}
        return cls(
            key=str(data.get("key") or f"step_{position + 1}"),
            name=str(data.get("name") or data.get("key") or f"Step {position + 1}"),
            kind=str(data.get("kind") or "action"),
            config=dict(data.get("config") or {}),
            next=data.get("next") or None,
            branches=dict(data.get("branches") or {}),
            timeout_seconds=data.get("timeout_seconds"),
            on_error=data.get("on_error") or "stop",
            on_error_goto=data.get("on_error_goto") or None,
            retry=RetryPolicy(**{k: v for k, v in retry.items() if k in RetryPolicy.__dataclass_fields__}),
            position=position,
        )


@dataclass(frozen=True)
class Lane:
    """Where a step sits inside a container (a parallel branch or a loop body)."""

    owner: str  # the parallel or loop step's key
    lane: int  # branch number (always 0 for a loop body)
    steps: tuple[str, ...]  # the lane's steps in order


def lanes_of(step: StepDef) -> list[list[str]]:
    """The lanes a container step owns: a parallel's branches or a loop's body."""
    if step.kind == "parallel":
        return [list(b) if isinstance(b, list) else [b] for b in step.config.get("branches") or []]
    if step.kind == "loop":
        return [list(step.config.get("steps") or [])]
    return []


@dataclass(frozen=True)
class Definition:
    """A whole workflow definition: ordered steps plus run-level settings."""

    name: str
    steps: tuple[StepDef, ...]
    timeout_seconds: float = 300
    on_failure: str = "nothing"
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    lanes: dict = field(default_factory=dict, compare=False, repr=False)  # step key -> Lane

    @classmethod
    def from_dict(cls, data: dict) -> Definition:
        """Parse the JSON stored on a version (the import/export format)."""
        steps = tuple(StepDef.from_dict(s, i) for i, s in enumerate(data.get("steps") or []))
        lanes = {}
        for step in steps:
            for number, lane in enumerate(lanes_of(step)):
                for key in lane:
                    lanes.setdefault(key, Lane(step.key, number, tuple(lane)))
        return cls(
            name=str(data.get("name") or ""),
            steps=steps,
            timeout_seconds=data.get("timeout_seconds") or 300,
            on_failure=data.get("on_failure") or "nothing",
            raw=data,
            lanes=lanes,
        )

    @property
    def start(self) -> str | None:
        top = [s for s in self.steps if s.key not in self.lanes]
        return top[0].key if top else None

    def step(self, key: str) -> StepDef:
        for step in self.steps:
            if step.key == key:
                return step
        raise KeyError(key)

    def has_step(self, key: str) -> bool:
        return any(s.key == key for s in self.steps)

    def following(self, step: StepDef) -> str | None:
        """The next step by position at the same level (steps inside containers are skipped)."""
        for later in self.steps[step.position + 1 :]:
            if later.key not in self.lanes:
                return later.key
        return None

    def next_of(self, step: StepDef) -> str | None:
        """Where the path goes after `step` succeeds without choosing a branch; None ends the path or lane."""
        if step.next == END:
            return None
        lane = self.lanes.get(step.key)
        if lane is not None:  # inside a branch or loop body: the lane's order rules
            index = lane.steps.index(step.key) + 1
            return step.next or (lane.steps[index] if index < len(lane.steps) else None)
        return step.next or self.following(step)

    def lane_end(self, step: StepDef) -> Lane | None:
        """The lane `step` ends when it has nowhere to go, if it is inside a container."""
        return self.lanes.get(step.key)


def step_dict(step: Any) -> dict:
    """Serialise anything shaped like a step (a StepDef or the Step model) to the exported form."""
    return {
        "key": step.key,
        "name": step.name,
        "kind": step.kind,
        "config": canonical_config(step.kind, step.config or {})[0],
        "next": getattr(step, "next", None) or getattr(step, "next_step", None) or None,
        "branches": step.branches or {},
        "timeout_seconds": step.timeout_seconds,
        "on_error": step.on_error,
        "on_error_goto": step.on_error_goto or None,
        "retry": _retry_dict(step),
    }


def _retry_dict(step: Any) -> dict:
    retry = getattr(step, "retry", None)
    if isinstance(retry, RetryPolicy):
        return dict(retry.__dict__)
    return {
        "max_attempts": step.retry_max_attempts,
        "initial_delay": step.retry_initial_delay,
        "multiplier": step.retry_multiplier,
        "max_delay": step.retry_max_delay,
        "jitter": step.retry_jitter,
    }
