"""Budgets without a database: what one step may render and produce, and regular expressions in linear time."""

import time

import pytest

from executions.engine import interpreter, limits
from executions.engine.context import StepContext
from executions.engine.errors import ExpressionError
from executions.engine.expressions import evaluate
from executions.engine.limits import RenderBudget
from integrations import actions as registry

from .test_interpreter import RecordingActions, ctx_for, make, variables

MEGABYTE = "x" * 1_000_000


class SetActions:
    """The real `set` action, run as the runtime runs it (its variables collected on the context)."""

    def run(self, action, inputs, *, ctx):
        set_vars = ctx.extra.setdefault("set_vars", {})
        return registry.run_action(action, inputs, registry.ActionContext("k", 5.0, set_variables=set_vars))


def set_step(inputs: dict, **vars_):
    definition = make([{"key": "copy", "kind": "action", "config": {"action": "set", "inputs": inputs}}])
    ctx = ctx_for(definition, "copy", {"blob": MEGABYTE}, SetActions())
    ctx.variables["vars"] = vars_
    return definition.step("copy"), ctx


def test_set_step_cannot_build_gigabytes():
    step, ctx = set_step({f"v{i}": "{{trigger.blob}}" for i in range(1_000)})  # 1 GB once stored
    started = time.monotonic()
    outcome = interpreter.run_step(step, ctx)
    assert time.monotonic() - started < 2
    assert outcome.status == "failed" and not ctx.extra.get("set_vars")
    assert "step 'copy'" in outcome.error and f"larger than {limits.MAX_RENDERED} characters" in outcome.error


def test_set_step_cannot_build_gigabytes_with_one_expression_either():
    step, ctx = set_step({"v": "{{ [" + ", ".join(["trigger.blob"] * 50) + "] }}", "w": "{{ trigger.blob }}"})
    outcome = interpreter.run_step(step, ctx)
    assert outcome.status == "failed" and "step 'copy'" in outcome.error


def test_a_set_step_within_the_budget_still_copies_a_megabyte():
    step, ctx = set_step({"copy": "{{trigger.blob}}", "note": "size {{ length(trigger.blob) }}"})
    outcome = interpreter.run_step(step, ctx)
    assert outcome.status == "succeeded" and ctx.extra["set_vars"] == {"copy": MEGABYTE, "note": "size 1000000"}


def test_set_cannot_grow_the_run_variables_past_the_limit():
    step, ctx = set_step({"more": "{{trigger.blob}}"}, **{f"old{i}": MEGABYTE for i in range(4)})
    outcome = interpreter.run_step(step, ctx)
    assert outcome.status == "failed" and f"the limit is {limits.MAX_VARS} characters" in outcome.error


def test_a_steps_output_is_capped_naming_the_step_and_the_limit():
    definition = make([{"key": "fetch", "kind": "action", "config": {"action": "http_request", "inputs": {}}}])
    huge = {"items": [MEGABYTE] * 5}  # shared references: 5 MB once stored
    outcome = interpreter.run_step(definition.step("fetch"), ctx_for(definition, "fetch", {}, RecordingActions(huge)))
    assert outcome.status == "failed"
    assert "step 'fetch'" in outcome.error and f"the limit per step is {limits.MAX_OUTPUT} characters" in outcome.error


def test_one_render_budget_covers_every_render_call_of_an_attempt():
    definition = make([{"key": "copy", "kind": "action", "config": {"action": "log", "inputs": {}}}])
    ctx = StepContext(step=definition.step("copy"), variables=variables({"blob": MEGABYTE}))
    for _ in range(3):
        ctx.render("{{trigger.blob}}")
    with pytest.raises(ExpressionError, match="render budget"):
        ctx.render({"a": "{{trigger.blob}}", "b": "{{trigger.blob}}"})


def test_rendering_stops_when_its_time_budget_is_spent():
    with pytest.raises(ExpressionError, match="took longer than 0 s"):
        RenderBudget(seconds=0).charge("x")


def test_the_budgets_can_be_set_from_the_edge(monkeypatch):
    for name in ("MAX_RENDERED", "RENDER_SECONDS", "MAX_OUTPUT", "MAX_VARS"):
        monkeypatch.setattr(limits, name, getattr(limits, name))
    limits.configure(rendered=10, output=20)
    assert (limits.MAX_RENDERED, limits.MAX_OUTPUT, limits.MAX_VARS, limits.RENDER_SECONDS) == (10, 20, 20, 5.0)
    with pytest.raises(ExpressionError, match="larger than 10 characters"):
        RenderBudget().charge("x" * 20)


def test_shared_data_is_measured_as_stored_without_walking_it_each_time():
    shared = [MEGABYTE] * 1_000
    started = time.monotonic()
    assert 10**12 < limits.json_size([shared] * 1_000, 10**13) < 1.01 * 10**12  # a terabyte, counted in no time
    assert time.monotonic() - started < 0.5


def test_cel_matches_runs_in_linear_time():
    """CEL's matches() is cel-rust's regex crate (no backtracking): proven, not assumed."""
    started = time.monotonic()
    cases = [("(a+)+$", "a" * 100_000 + "!"), ("(x+x+)+y", "x" * 100_000), ("(a|aa)+$", "a" * 50_000 + "b")]
    for pattern, text in cases:
        assert evaluate(f'trigger.s.matches("{pattern}")', {"trigger": {"s": text}}) is False
    assert time.monotonic() - started < 1


def test_infinity_from_an_expression_fails_the_step_instead_of_reaching_the_database():
    step, ctx = set_step({"ratio": "{{ 1.0 / 0.0 }}"})
    outcome = interpreter.run_step(step, ctx)
    assert outcome.status == "failed" and "the number inf (JSON has no NaN or Infinity)" in outcome.error


def test_nan_in_an_actions_result_fails_the_step():
    definition = make([{"key": "fetch", "kind": "action", "config": {"action": "http_request", "inputs": {}}}])
    ctx = ctx_for(definition, "fetch", {}, RecordingActions({"rate": float("nan")}))
    outcome = interpreter.run_step(definition.step("fetch"), ctx)
    assert outcome.status == "failed" and "step 'fetch': its output holds the number nan" in outcome.error
