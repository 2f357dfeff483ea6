"""What running a step produced, and what the run does next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """The result of one step attempt."""

    status: str  # "succeeded" | "failed" | "waiting"
    result: Any = None
    branch: str | None = None  # which branch target to follow (condition "true"/"false", switch case)
    error: str = ""
    retryable: bool = False
    retry_after: float | None = None
    error_detail: dict = field(default_factory=dict)
    wake_at: datetime | None = None  # for "waiting": run the step again at this time
    finish: str | None = None  # terminal kinds end the run: "succeeded" | "failed"
    waiting_for: str | None = None  # the event type a waiting step listens for

    @classmethod
    def ok(cls, result: Any = None, *, branch: str | None = None, finish: str | None = None) -> Outcome:
        return cls("succeeded", result=result, branch=branch, finish=finish)

    @classmethod
    def failed(cls, error: str, *, retryable: bool = False, retry_after: float | None = None, detail=None) -> Outcome:
        return cls("failed", error=error, retryable=retryable, retry_after=retry_after, error_detail=detail or {})

    @classmethod
    def waiting(cls, wake_at: datetime, result: Any = None, *, waiting_for: str | None = None) -> Outcome:
        return cls("waiting", result=result, wake_at=wake_at, waiting_for=waiting_for)


@dataclass(frozen=True)
class Decision:
    """What the runtime does after a step attempt ends."""

    next: tuple[str, ...] = ()  # steps to start now
    retry_in: float | None = None  # schedule another attempt of the same step after this many seconds
    finish: str | None = None  # end the run with this status
    error: str = ""
    notify: bool = False  # tell the workflow owner about the failure
    output: Any = None
    join: str | None = None  # a lane of this container (parallel or loop) has ended
    spawn: tuple[int, ...] = ()  # loop: start the body for these item indexes
    spawn_delay: float = 0.0  # loop: seconds before the spawned items start (rate limiting)
    cancel_lanes: tuple[int, ...] = ()  # parallel "any": stop these branches
    container_done: bool = False  # the container's lanes are joined: carry on after the container
