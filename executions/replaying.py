"""Replay runs: test runs of a draft fed with what an earlier (original) run met on its way.

A replay run is a test run (vendor calls recorded, waits fast-forwarded) whose `trigger_meta["replay"]` names the
original run. Where the original already has an answer, the replay takes it instead of asking again:

- an approval or a human task at the same step key (scope and visit) is answered as it was answered then; an
  approval the original never answered (a new step, or one still pending) fails with NO_ANSWER, which the replay
  report shows as "no answer to replay", not as a new failure;
- an external call the test run would record (a write, or a read) with the same recorded input at the same step
  key returns what the vendor answered then (or fails as it failed then), so later steps read real data;
- an agent step with the same config and the same input returns the agent's answer then (no model call, no cost,
  no drift); a changed prompt or input asks the agent again;
- a wait for an event finds the events the original's same step received.

Anything else runs as the draft says, as in any test run.
"""

from __future__ import annotations

from integrations import actions as action_registry

from .engine.definition import Definition
from .engine.errors import StepError
from .engine.outcome import Outcome
from .models import Execution, StepRun

NO_ANSWER = "no answer to replay"
ANSWERED_KINDS = frozenset({"approval", "task"})  # what people decided: taken from the original as it was
ROW_FIELDS = ("step_key", "step_kind", "scope", "visit", "status", "input", "output", "branch", "error")


def original_of(execution: Execution) -> int | None:
    """The run a replay run replays, or None for any other run."""
    if not execution.is_test:
        return None
    return (execution.trigger_meta.get("replay") or {}).get("of")


class Tape:
    """What the original run met, read once (lazily) for one attempt of a replay run."""

    def __init__(self, original_id: int):
        self.original_id = original_id
        self._rows: list[dict] | None = None
        self._configs: dict | None = None

    @property
    def rows(self) -> list[dict]:
        if self._rows is None:
            finished = StepRun.objects.filter(execution_id=self.original_id, status__in=("succeeded", "failed"))
            self._rows = list(finished.order_by("id").values(*ROW_FIELDS))
        return self._rows

    def step_config(self, key: str):
        """The step's config in the version the original ran (None when it had no such step)."""
        if self._configs is None:
            version = Execution.objects.filter(pk=self.original_id).values_list("version__definition", flat=True)
            steps = Definition.from_dict(version.first() or {"steps": []}).steps  # as the draft's are read
            self._configs = {s.key: s.config for s in steps}
        return self._configs.get(key)

    def answer(self, step_run: StepRun) -> dict | None:
        """The original's finished row of this step visit (its last attempt), if the original got that far."""
        found = [
            r
            for r in self.rows
            if (r["step_key"], r["scope"], r["visit"]) == (step_run.step_key, step_run.scope, step_run.visit)
        ]
        return found[-1] if found else None

    def call(self, key: str, recorded_input) -> dict | None:
        """The original's last finished attempt of this step with this very input."""
        found = [r for r in self.rows if r["step_key"] == key and r["input"] == recorded_input]
        return found[-1] if found else None

    def events(self, event_type: str) -> list[dict]:
        """The events the original's wait steps received, of this type."""
        events = [(r["output"] or {}).get("event") for r in self.rows if r["step_kind"] == "wait_for_event"]
        return [e for e in events if isinstance(e, dict) and e.get("type") == event_type]


def answered(tape: Tape, step, step_run: StepRun, ctx) -> Outcome | None:
    """An approval or task step answered as in the original; None to run the step as usual."""
    if step.kind not in ANSWERED_KINDS:
        return None
    row = tape.answer(step_run)
    if row is None or row["status"] != "succeeded":
        if step.kind == "task":
            return None  # a test run records the task it would create: nothing to answer
        return Outcome.failed(f"{NO_ANSWER}: the original run #{tape.original_id} has no decision at '{step.key}'")
    try:
        ctx.record_input(ctx.render({k: v for k, v in step.config.items() if k != "wait"}))
    except Exception:  # noqa: BLE001 - the kind renders it again and fails as it would
        return None
    return Outcome.ok(row["output"], branch=row["branch"] or None)


class ReplayActions:
    """The ActionPort of a replay run: a call the test run would record gets the original's answer."""

    def __init__(self, inner, tape: Tape, *, send_reads: bool = False):
        self.inner, self.tape, self.send_reads = inner, tape, send_reads

    def run(self, action, inputs, *, ctx):
        if action_registry.records_in_test(action, inputs, send_reads=self.send_reads):
            recorded = action_registry.recorded_inputs(action, inputs)
            row = self.tape.call(ctx.step.key, recorded)
            if row is not None:
                if ctx.input is inputs:
                    ctx.input = recorded
                if row["status"] == "failed":
                    raise StepError(row["error"] or "failed in the original run")
                return row["output"]
        return self.inner.run(action, inputs, ctx=ctx)


class ReplayAgents:
    """The AgentPort of a replay run: the same prompt (config) on the same input gets the original's answer."""

    def __init__(self, inner, tape: Tape):
        self.inner, self.tape = inner, tape

    def get(self, name: str) -> dict:
        return self.inner.get(name)

    def perform(self, name: str, request: dict, *, ctx) -> dict:
        row = self.tape.call(ctx.step.key, ctx.input)
        if row is not None and row["status"] == "succeeded" and self.tape.step_config(ctx.step.key) == ctx.step.config:
            return row["output"]
        return self.inner.perform(name, request, ctx=ctx)


class ReplayEvents:
    """The EventPort of a replay run: the events the original's waits received (not today's)."""

    def __init__(self, tape: Tape):
        self.tape = tape

    def since_start(self, event_type: str) -> list[dict]:
        return self.tape.events(event_type)
