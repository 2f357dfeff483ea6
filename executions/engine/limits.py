"""What one step may build: its rendered config (size and time) and its output. Plain Python; the Django edge
may override the numbers from settings (configure), tests may lower them."""

from __future__ import annotations

import math
import time

from .errors import ExpressionError

MAX_RENDERED = 4_000_000  # approximate JSON characters of everything one step attempt renders, all calls together
RENDER_SECONDS = 5.0  # CPU time one step attempt may spend rendering, so an abandoned attempt cannot spin on
MAX_OUTPUT = 4_000_000  # approximate JSON characters of a step's result, as it would be stored
MAX_VARS = 4_000_000  # the run's variables ({{vars.*}}) after a `set` step
MAX_NESTING = 200  # deeper data is not measured but refused


class Unstorable(Exception):
    """A value cannot be stored as JSON: too deep to measure, or NaN/Infinity (which PostgreSQL refuses)."""


def configure(*, rendered: int | None = None, seconds: float | None = None, output: int | None = None) -> None:
    """Set the budgets from the edge (settings); None keeps the default."""
    global MAX_RENDERED, RENDER_SECONDS, MAX_OUTPUT, MAX_VARS
    MAX_RENDERED = rendered or MAX_RENDERED
    RENDER_SECONDS = seconds or RENDER_SECONDS
    MAX_OUTPUT = MAX_VARS = output or MAX_OUTPUT


def json_size(value, limit: int) -> int:
    """About how long value's JSON is, shared parts counted each time they appear; stops once past limit."""
    memo: dict[int, int] = {}

    def size(item, depth: int) -> int:
        if isinstance(item, str):
            return len(item) + 2
        if isinstance(item, float) and not math.isfinite(item):
            raise Unstorable(f"the number {item} (JSON has no NaN or Infinity)")
        if not isinstance(item, dict | list | tuple):
            return 8
        if id(item) in memo:
            return memo[id(item)]
        if depth > MAX_NESTING:
            raise Unstorable(f"data nested more than {MAX_NESTING} levels deep")
        total = 2
        pairs = item.items() if isinstance(item, dict) else ((None, v) for v in item)
        for key, child in pairs:
            total += (len(key) + 4 if isinstance(key, str) else 1) + size(child, depth + 1)
            if total > limit:
                return total  # a partial count: not remembered
        memo[id(item)] = total
        return total

    return size(value, 0)


def over(value, limit: int) -> str | None:
    """Why value is over limit, or None when it fits."""
    try:
        return f"is larger than {limit} characters" if json_size(value, limit) > limit else None
    except Unstorable as exc:
        return f"holds {exc}"


class RenderBudget:
    """One step attempt's rendering: every value its placeholders produce is charged here."""

    def __init__(self, size: int | None = None, seconds: float | None = None):
        self.limit = MAX_RENDERED if size is None else size
        self.seconds = RENDER_SECONDS if seconds is None else seconds
        self.left, self.deadline = self.limit, time.monotonic() + self.seconds

    def charge(self, value, expression: str = "") -> None:
        """Count what a placeholder produced; ExpressionError once the step's budget is spent."""
        if time.monotonic() > self.deadline:
            raise ExpressionError(
                f"rendering the config took longer than {self.seconds:g} s (the step's render budget)",
                expression=expression,
            )
        try:
            self.left -= json_size(value, self.left)
        except Unstorable as exc:
            raise ExpressionError(f"a rendered value holds {exc}", expression=expression) from None
        if self.left < 0:
            raise ExpressionError(
                f"the rendered config is larger than {self.limit} characters (the step's render budget)",
                expression=expression,
            )
