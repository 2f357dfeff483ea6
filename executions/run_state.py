"""What one task keeps about the execution it runs between steps: its version, and the finished step runs.

The database stays the truth. A version is immutable, so its parsed Definition is read once per task. The
finished step runs (what `{{step_key.*}}` reads) are loaded once, then each claim reads only what changed: rows
newer than any seen, and the rows this task wrote itself. Another worker can only add or change finished rows
by completing a step, which adds a finished row under the execution's lock; so each claim, holding that lock,
compares the number of finished rows with the number this task expects, and any difference reloads them all.
"""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from . import scopes
from .engine.context import step_vars
from .engine.definition import Definition
from .models import Execution, StepRun

FINISHED = (StepRun.Status.SUCCEEDED, StepRun.Status.FAILED)
ROW_FIELDS = ("id", "step_key", "scope", "output", "status", "duration_ms", "error", "attempt")


def finished_count():
    """How many finished step runs the claimed step's execution has, as a subquery of the claim."""
    rows = StepRun.objects.filter(execution_id=OuterRef("execution_id"), status__in=FINISHED).order_by()
    return Coalesce(Subquery(rows.values("execution_id").annotate(n=Count("pk")).values("n")), 0)


def locked_execution(execution_id: int, state: RunState | None = None) -> Execution:
    """The execution row, locked; its version joined only when the task has not read it yet."""
    # Lock the execution row only: the joined workflow row stays free, so runs of one workflow don't queue.
    rows = Execution.objects.select_for_update(of=("self",)).select_related("workflow")
    if state is None or state.version is None:
        rows = rows.select_related("version")
    execution = rows.get(pk=execution_id)
    if state is not None:
        state.attach(execution)
    return execution


class RunState:
    """One task's memory of one execution; every method falls back to the database when unsure."""

    def __init__(self, execution_id: int):
        self.execution_id = execution_id
        self.version = None  # the execution's WorkflowVersion, read with the first claim
        self.definition: Definition | None = None
        self.claimed: StepRun | None = None  # the step run this task holds the lease of
        self.expected: int | None = None  # finished rows there should be if only this task wrote; None: unknown
        self._scopes: dict[str, dict[int, dict]] | None = None  # scope -> {id: row}, ids ascending
        self._seen = 0  # the highest id loaded
        self._dirty: set[int] = set()  # finished rows this task wrote since the last load

    def attach(self, execution: Execution) -> None:
        """Reuse the version read before, or remember it (with its parsed definition) the first time."""
        if self.version is not None and self.version.pk == execution.version_id:
            execution.version = self.version
        else:
            self.version, self.definition = execution.version, Definition.from_dict(execution.version.definition)

    def claimed_step(self, step_run: StepRun, execution: Execution) -> None:
        """At a claim, under the execution's lock: bring the finished rows up to date for the claimed step.

        The claim counted the finished rows in a statement that started with the lock held, so every completion
        is in that count; another worker's makes it differ from this task's, and everything is read again.
        """
        if getattr(step_run, "finished_runs", None) != self.expected:
            self._scopes, self.expected = None, None
        self.claimed = step_run
        self.load(execution)

    def wrote(self, step_run_id: int, *, finished: bool = False) -> None:
        """This task recorded a step run (finished: it now counts) or changed a finished one (a container's state)."""
        self._dirty.add(step_run_id)
        if finished and self.expected is not None:
            self.expected += 1

    def load(self, execution: Execution, enclosing: list[str] | None = None) -> RunState:
        """Read every finished row (only those in `enclosing` scopes, if given) or, once loaded, what changed."""
        rows = execution.step_runs.filter(status__in=FINISHED).order_by("id")  # (by execution would join it)
        if self._scopes is None:
            self._scopes = {}
            if enclosing is not None:
                rows = rows.filter(scope__in=enclosing)
        else:
            rows = rows.filter(Q(id__gt=self._seen) | Q(id__in=self._dirty))
        for row in rows.values(*ROW_FIELDS):
            self._add(row)
        self._dirty.clear()
        self.expected = sum(len(rows) for rows in self._scopes.values())
        return self

    def step_variables(self, scope: str) -> dict:
        """Each finished step's latest attempt as `{{key.*}}`, inner scopes winning, plus `item`/`index` in a loop."""
        variables = {}
        for prefix in scopes.prefixes(scope):  # outermost first; within a scope by id: later attempts win
            for row in self._scopes.get(prefix, {}).values():
                variables[row["step_key"]] = step_vars(
                    result=_copy(row["output"]),
                    status=row["status"],
                    duration_ms=row["duration_ms"],
                    error=row["error"],
                    attempts=row["attempt"],
                )
        if scope:
            variables.update(self._loop_item(scope))
        return variables

    def _add(self, row: dict) -> None:
        rows = self._scopes.setdefault(row["scope"], {})
        out_of_order = row["id"] not in rows and rows and row["id"] < next(reversed(rows))
        rows[row["id"]] = row
        if out_of_order:
            self._scopes[row["scope"]] = dict(sorted(rows.items()))
        self._seen = max(self._seen, row["id"])

    def _loop_item(self, scope: str) -> dict:
        """`item` and `index` of the innermost loop this scope is in (its latest succeeded attempt's items)."""
        parent, loop_key, index = scopes.split(scope)
        runs = [
            row
            for row in self._scopes.get(parent, {}).values()
            if row["step_key"] == loop_key and row["status"] == StepRun.Status.SUCCEEDED
        ]
        loop_run = max(runs, key=lambda row: (row["attempt"], row["id"]), default=None)
        items = (loop_run["output"] or {}).get("items", []) if loop_run else []
        return {"item": _copy(items[index]) if index < len(items) else None, "index": index}


def _copy(value):
    """A fresh copy of JSON data, so a step never shares (and so never changes) what a later step reads."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value
