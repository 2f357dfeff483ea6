"""What one task keeps about the execution it runs between steps: its version, and what its steps may read.

The database stays the truth. A version is immutable, so its parsed Definition is read once per task. What
`{{step_key.*}}` reads (each finished step's latest attempt) is loaded once, then kept up to date as this task
records steps, so neither queries nor CPU per step grow with the length of the run. Another worker can only add
finished rows by completing a step, and every completion adds the rows it finished to the execution's
`steps_done` counter in the statement that locks the execution; so when the counter is not what this task's own
writes explain, somebody else wrote, and everything is read again (lazily, at the next step that reads it).
"""

from __future__ import annotations

import json

from django.db import connection
from django.db.models import Max

from faos.db import columns, models_from_row, prepared_cursor

from .. import scopes
from ..engine.context import step_vars, trigger_vars
from ..engine.definition import Definition
from ..engine.expressions import copy_json
from ..models import Execution, StepRun

FINISHED = (StepRun.Status.SUCCEEDED, StepRun.Status.FAILED)
ROW_FIELDS = ("id", "step_key", "scope", "output", "status", "duration_ms", "error", "attempt", "visit")
TABLE = Execution._meta.db_table


def locked_execution(
    execution_id: int, state: RunState | None = None, *, finished: int = 0, variables: dict | None = None
) -> Execution:
    """The execution row, locked, with `finished` added to its counter and `variables` merged into its own.

    With a task's state this is one statement (an UPDATE … RETURNING, whose row lock is the lock); the joined
    workflow row is never locked, so runs of one workflow don't queue behind each other.
    """
    if state is None or state.version is None or connection.vendor != "postgresql":
        return _locked_by_select(execution_id, state, finished, variables)
    sets, params = ["steps_done = steps_done + %s"], [finished]
    if variables:
        sets.append("variables = variables || %s::jsonb")
        params.append(json.dumps(variables))
    sql = f"UPDATE {TABLE} SET {', '.join(sets)} WHERE id = %s RETURNING {columns(TABLE, Execution)}"  # noqa: S608
    with prepared_cursor() as cursor:
        cursor.execute(sql, [*params, execution_id])
        row = cursor.fetchone()
    if row is None:
        raise Execution.DoesNotExist(f"Execution matching id {execution_id} does not exist.")
    (execution,) = models_from_row(row, (Execution,))
    state.attach(execution, finished=finished)
    return execution


def _locked_by_select(execution_id: int, state, finished: int, variables: dict | None) -> Execution:
    rows = Execution.objects.select_for_update(of=("self",)).select_related("workflow")
    if state is None or state.version is None:
        rows = rows.select_related("version")
    execution = rows.get(pk=execution_id)
    if finished or variables:
        execution.steps_done += finished
        execution.variables = {**execution.variables, **(variables or {})}
        Execution.objects.filter(pk=execution_id).update(steps_done=execution.steps_done, variables=execution.variables)
    if state is not None:
        state.attach(execution, finished=finished)
    return execution


class RunState:
    """One task's memory of one execution; every method falls back to the database when unsure."""

    def __init__(self, execution_id: int):
        self.execution_id = execution_id
        self.execution: Execution | None = None  # the row as this task's last claim or completion saw it
        self.version = None  # the execution's WorkflowVersion, read with the first claim
        self.workflow = None
        self.started_by = None
        self.definition: Definition | None = None
        self.claimed: StepRun | None = None  # the step run this task holds the lease of
        self.held: StepRun | None = None  # a step this task inserted already leased to itself: it runs next
        self.counter: int | None = None  # the execution's steps_done that the rows below account for
        self.loaded = False
        self._base: dict | None = None  # trigger.* and workflow.*: the same for every step of the run
        self._vars: dict[str, dict[str, dict]] = {}  # scope -> step key -> `{{key.*}}` of its latest attempt
        self._loops: dict[tuple[str, str], tuple[tuple[int, int], list]] = {}  # (scope, loop) -> (order, items)
        self._visits: dict[tuple[str, str], int | None] = {}  # (key, scope) -> last visit (None: unknown)

    def attach(self, execution: Execution, *, finished: int = 0) -> None:
        """Adopt a fresh execution row: reuse the version and workflow read before; notice others' writes."""
        if self.version is not None and self.version.pk == execution.version_id:
            execution.version = self.version
        else:
            self.version, self.definition = execution.version, Definition.from_dict(execution.version.definition)
        if self.workflow is not None and self.workflow.pk == execution.workflow_id:
            execution.workflow = self.workflow
        else:
            self.workflow = execution.workflow
        if execution.started_by_id is not None:  # the person the run acts for: read once per task
            if self.started_by is None or self.started_by.pk != execution.started_by_id:
                self.started_by = execution.started_by
            execution.started_by = self.started_by
        if self.counter is None or execution.steps_done != self.counter + finished:
            self.loaded = False  # somebody else finished a step: read everything again before the next step
        self.counter = execution.steps_done

    def forget(self) -> None:
        """What this task believed may not have been written (a rolled-back completion): read it all again."""
        self.loaded, self.counter, self.held = False, None, None

    def variables(self, execution: Execution, scope: str) -> dict:
        """The expression context of a step in `scope`: trigger, workflow, vars, the steps it sees, loop item."""
        if not self.loaded and execution.steps_done == 0 and self.claimed is not None:
            self.fresh(self.claimed)  # no step has finished yet: there is nothing to read
        if not self.loaded:
            self.load(execution)
        if self._base is None:
            self._base = base_variables(execution)
        variables = {**self._base, "vars": execution.variables}
        for prefix in scopes.prefixes(scope):  # outermost first: inner scopes win
            variables.update(self._vars.get(prefix, ()))
        if scope:
            variables.update(self._loop_item(scope))
        return variables

    def load(self, execution: Execution, enclosing: list[str] | None = None) -> RunState:
        """Read every finished row (only those in `enclosing` scopes, if given) and the last visit of every step."""
        self._vars, self._loops, self._visits = {}, {}, {}
        rows = execution.step_runs.filter(status__in=FINISHED).order_by("id")  # (by execution would join it)
        if enclosing is not None:
            rows = rows.filter(scope__in=enclosing)
        for row in rows.values(*ROW_FIELDS):
            self.add(row)
        if enclosing is None:
            others = execution.step_runs.exclude(status__in=FINISHED).order_by()
            for key, scope, visit in others.values_list("step_key", "scope").annotate(Max("visit")):
                self._visits[(key, scope)] = max(self._visits.get((key, scope)) or 0, visit)
        self.loaded = enclosing is None
        return self

    def fresh(self, claimed: StepRun) -> None:
        """The run's first step: nothing has finished, and the claimed row is the only one there is."""
        self._vars, self._loops, self._visits = {}, {}, {claimed_key(claimed): claimed.visit}
        self.loaded = True

    def add(self, row: dict) -> None:
        """A finished row (or a container whose state changed), newer than every row added before it."""
        scope, key = row["scope"], row["step_key"]
        self.visited(key, scope, row.get("visit"))
        if row["status"] == StepRun.Status.SUCCEEDED and isinstance(row["output"], dict):
            order = (row["attempt"], row["id"] or float("inf"))  # (an inline row not written yet has no id)
            if order >= self._loops.get((scope, key), ((0, 0), None))[0]:
                self._loops[(scope, key)] = (order, row["output"].get("items"))
        self._vars.setdefault(scope, {})[key] = step_vars(
            result=row["output"],
            status=row["status"],
            duration_ms=row["duration_ms"],
            error=row["error"],
            attempts=row["attempt"],
        )

    def recorded(self, run: StepRun) -> None:
        """This task wrote a finished row (or changed a container's state): later steps read it from here."""
        if self.loaded:
            self.add(row_of(run))

    def visited(self, key: str, scope: str, visit: int | None) -> None:
        """A row of this step exists with this visit (None: a visit this task does not know)."""
        known = self._visits.get((key, scope), 0)
        self._visits[(key, scope)] = None if visit is None or known is None else max(known, visit)

    def next_visit(self, key: str, scope: str) -> int | None:
        """The visit a new row of this step gets; None when this task cannot tell (the INSERT computes it)."""
        last = self._visits.get((key, scope), 0) if self.loaded else None
        return None if last is None else last + 1

    def _loop_item(self, scope: str) -> dict:
        """`item` and `index` of the innermost loop this scope is in (its latest succeeded attempt's items)."""
        parent, loop_key, index = scopes.split(scope)
        items = self._loops.get((parent, loop_key), (None, None))[1] or []
        return {"item": copy_json(items[index]) if index < len(items) else None, "index": index}


def build_variables(execution: Execution, scope: str = "", state: RunState | None = None) -> dict:
    """The expression context: trigger, workflow, vars, each finished step's latest attempt, loop item."""
    if state is None:  # one look, at the scopes this step can see
        state = RunState(execution.pk).load(execution, scopes.prefixes(scope))
        state.loaded = True
    return state.variables(execution, scope)


def row_of(run: StepRun) -> dict:
    """What RunState keeps of a row, read off a (possibly unsaved) StepRun."""
    return {field: getattr(run, "pk" if field == "id" else field) for field in ROW_FIELDS}


def claimed_key(run: StepRun) -> tuple[str, str]:
    return run.step_key, run.scope


def base_variables(execution: Execution) -> dict:
    """`trigger.*` and `workflow.*`: what every step of a run sees alike."""
    return {
        "trigger": trigger_vars(
            execution.input,
            source=execution.trigger_source or execution.trigger_kind,
            timestamp=execution.created_at.isoformat(),
            headers=execution.trigger_meta.get("headers"),
        ),
        "workflow": {
            "id": execution.workflow_id,
            "name": execution.workflow.name,
            "version": execution.version.number,
            "execution_id": execution.pk,
            "started_at": (execution.started_at or execution.created_at).isoformat(),
            "is_test": execution.is_test,
        },
    }
