"""Runs one step attempt and decides what follows it. Stateless: the runtime persists everything."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace

from . import kinds, limits
from .context import StepContext
from .definition import END, Definition, StepDef
from .errors import EngineError, ExpressionError, StepError
from .outcome import Decision, Outcome


def step_timeout(step: StepDef) -> float:
    """The step's own timeout, else its kind's default."""
    if step.timeout_seconds:
        return float(step.timeout_seconds)
    kind = kinds.get(step.kind)
    return kind.default_timeout if kind else 30.0


def run_step(step: StepDef, ctx: StepContext) -> Outcome:
    """Run one attempt, turning every failure (including a timeout) into a failed Outcome."""
    kind = kinds.get(step.kind)
    if kind is None:
        return Outcome.failed(f"unknown step kind '{step.kind}'")
    # A daemon thread per attempt, so a step that overruns its timeout is abandoned (Python cannot
    # kill a thread) without holding up the worker; I/O steps also pass the timeout to their client.
    box: list[Outcome] = []
    thread = threading.Thread(target=_in_thread, args=(box, kind, step, ctx), daemon=True)
    thread.start()
    if not _wait(thread, ctx):
        return Outcome.failed("stopped: this worker no longer holds the step (cancelled or taken over)")
    if box:
        return box[0]
    return Outcome.failed(f"timed out after {ctx.timeout:g} s", retryable=True, detail={"timeout": ctx.timeout})


def run_inline(step: StepDef, ctx: StepContext) -> Outcome:
    """Run a pure step's attempt in the caller's thread: it only evaluates expressions, bounded by their budget."""
    kind = kinds.get(step.kind)
    if kind is None:
        return Outcome.failed(f"unknown step kind '{step.kind}'")
    return _guarded_run(kind, step, ctx)


def _wait(thread: threading.Thread, ctx: StepContext) -> bool:
    """Wait up to the step's timeout, beating the heartbeat meanwhile; False when the heartbeat says stop."""
    deadline = time.monotonic() + ctx.timeout
    while (left := deadline - time.monotonic()) > 0 and thread.is_alive():
        thread.join(min(left, ctx.heartbeat_every) if ctx.heartbeat else left)
        if thread.is_alive() and ctx.heartbeat and time.monotonic() < deadline and not ctx.heartbeat():
            return False
    return True


def _in_thread(box: list, kind: kinds.StepKind, step: StepDef, ctx: StepContext) -> None:
    try:
        box.append(_guarded_run(kind, step, ctx))
    finally:
        if ctx.cleanup:
            ctx.cleanup()


def _guarded_run(kind: kinds.StepKind, step: StepDef, ctx: StepContext) -> Outcome:
    try:
        return _bounded(step, kind.run(step, ctx))
    except StepError as exc:
        return Outcome.failed(str(exc), retryable=exc.retryable, retry_after=exc.retry_after, detail=exc.detail)
    except ExpressionError as exc:
        return Outcome.failed(str(exc), detail={"expression": exc.expression, "path": exc.path})
    except EngineError as exc:
        return Outcome.failed(str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug in one step must fail that step, not the worker
        return Outcome.failed(f"{type(exc).__name__}: {exc}", detail={"exception": type(exc).__name__})


def _bounded(step: StepDef, outcome: Outcome) -> Outcome:
    """A step's result is stored and read by every later step: over the limit, the step fails instead."""
    why = outcome.result is not None and limits.over(outcome.result, limits.MAX_OUTPUT)
    if not why:
        return outcome
    return Outcome.failed(
        f"step '{step.key}': its output {why} (the limit per step is {limits.MAX_OUTPUT} characters of JSON)",
        detail={"limit": limits.MAX_OUTPUT},
    )


def decide(definition: Definition, step: StepDef, outcome: Outcome, *, attempt: int) -> Decision:
    """What happens after an attempt: next steps, a retry, or the end of the run."""
    if outcome.status == "succeeded":
        return _after_success(definition, step, outcome)
    if outcome.status == "waiting":
        return Decision()
    return _after_failure(definition, step, outcome, attempt)


def _after_success(definition: Definition, step: StepDef, outcome: Outcome) -> Decision:
    if outcome.finish:
        error = (outcome.result or {}).get("message", "") if outcome.finish == "failed" else ""
        return Decision(finish=outcome.finish, output=outcome.result, error=error)
    if outcome.branch is not None:
        # A branch with no target falls through to the following step, like a plain step.
        target = step.branches.get(outcome.branch)
        if target and target != END:
            return Decision(next=(target,))
        return continue_after(definition, step)
    kind = kinds.get(step.kind)
    started = kind.start(definition, step, outcome) if kind else None
    return started or continue_after(definition, step)


def continue_after(definition: Definition, step: StepDef) -> Decision:
    """The default path on: the next step, else the end of a lane (join), else the end of the path."""
    following = definition.next_of(step)
    if following:
        return Decision(next=(following,))
    lane = definition.lane_end(step)
    return Decision(join=lane.owner) if lane else Decision()


def _after_failure(definition: Definition, step: StepDef, outcome: Outcome, attempt: int) -> Decision:
    if outcome.retryable and attempt < step.retry.max_attempts:
        delay = step.retry.delay(attempt, retry_after=outcome.retry_after, rand=random.random())
        return Decision(retry_in=delay)
    policy = step.on_error
    error = f"step '{step.key}' failed: {outcome.error}"
    if policy == "continue":
        return continue_after(definition, step)
    if policy == "notify_continue":
        return replace(continue_after(definition, step), notify=True, error=error)
    if policy == "goto" and step.on_error_goto:
        return Decision(next=(step.on_error_goto,))
    return Decision(finish="failed", error=error, notify=policy == "notify")
