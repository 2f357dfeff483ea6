"""The interpreter without a database: running steps, choosing what comes next, retries and errors."""

import time

from executions.engine import interpreter
from executions.engine.context import StepContext, step_vars, trigger_vars
from executions.engine.definition import Definition, RetryPolicy
from executions.engine.outcome import Outcome


class RecordingActions:
    """An ActionPort that records calls and answers from a script."""

    def __init__(self, answer=None, error=None):
        self.calls, self.answer, self.error = [], answer, error

    def run(self, action, inputs, *, ctx):
        self.calls.append((action, inputs, ctx.idempotency_key))
        if self.error:
            raise self.error
        return self.answer if self.answer is not None else {"echo": inputs}


def make(steps, **kw):
    return Definition.from_dict({"name": "t", "steps": steps, **kw})


def variables(payload=None, **steps):
    out = {
        "trigger": trigger_vars(payload or {}, source="test", timestamp="2026-01-01T00:00:00+00:00"),
        "workflow": {"id": 1, "name": "t", "version": 1, "execution_id": 9, "started_at": "x"},
        "vars": {},
    }
    out.update(steps)
    return out


def ctx_for(definition, key, payload=None, actions=None, timeout=5.0, **steps):
    return StepContext(
        step=definition.step(key),
        variables=variables(payload, **steps),
        actions=actions,
        idempotency_key=f"faos-9-{key}-1",
        timeout=timeout,
    )


def test_action_step_renders_inputs_and_passes_the_idempotency_key():
    d = make(
        [
            {
                "key": "greet",
                "kind": "action",
                "config": {
                    "action": "log",
                    "inputs": {"message": "Hi {{trigger.customer.name}}", "n": "{{trigger.n}}"},
                },
            }
        ]
    )
    port = RecordingActions()
    outcome = interpreter.run_step(d.step("greet"), ctx_for(d, "greet", {"customer": {"name": "Ada"}, "n": 3}, port))
    assert outcome.status == "succeeded"
    assert port.calls == [("log", {"message": "Hi Ada", "n": 3}, "faos-9-greet-1")]


def test_a_missing_variable_fails_the_step_naming_path_and_step():
    d = make(
        [
            {
                "key": "greet",
                "kind": "action",
                "config": {"action": "log", "inputs": {"message": "{{trigger.customer.email}}"}},
            }
        ]
    )
    outcome = interpreter.run_step(d.step("greet"), ctx_for(d, "greet", {"customer": {}}, RecordingActions()))
    assert outcome.status == "failed"
    assert "trigger.customer.email" in outcome.error and "greet" in outcome.error
    assert outcome.retryable is False


def test_previous_step_results_are_readable():
    d = make(
        [
            {
                "key": "use",
                "kind": "action",
                "config": {
                    "action": "log",
                    "inputs": {"message": "{{step_1.result.verified}} {{step_1.status}} {{step_1.duration_ms}}"},
                },
            }
        ]
    )
    port = RecordingActions()
    prior = step_vars(result={"verified": True}, status="succeeded", duration_ms=12, error="", attempts=1)
    interpreter.run_step(d.step("use"), ctx_for(d, "use", actions=port, step_1=prior))
    assert port.calls[0][1] == {"message": "true succeeded 12"}


def test_linear_steps_follow_their_position_and_the_last_ends_the_path():
    d = make(
        [
            {"key": "a", "kind": "action", "config": {"action": "log"}},
            {"key": "b", "kind": "action", "config": {"action": "log"}},
        ]
    )
    assert interpreter.decide(d, d.step("a"), Outcome.ok(1), attempt=1).next == ("b",)
    last = interpreter.decide(d, d.step("b"), Outcome.ok(1), attempt=1)
    assert last.next == () and last.finish is None


def test_explicit_next_overrides_position():
    d = make(
        [{"key": "a", "kind": "action", "next": "c"}, {"key": "b", "kind": "action"}, {"key": "c", "kind": "action"}]
    )
    assert interpreter.decide(d, d.step("a"), Outcome.ok(), attempt=1).next == ("c",)


def test_condition_chooses_the_branch_in_the_guides_syntax():
    steps = [
        {
            "key": "check",
            "kind": "condition",
            "config": {"expression": '{{trigger.customer.plan}} === "premium"'},
            "branches": {"true": "premium", "false": "standard"},
        },
        {"key": "premium", "kind": "complete"},
        {"key": "standard", "kind": "complete"},
    ]
    d = make(steps)
    for plan, target in (("premium", "premium"), ("basic", "standard")):
        outcome = interpreter.run_step(d.step("check"), ctx_for(d, "check", {"customer": {"plan": plan}}))
        assert outcome.branch == ("true" if plan == "premium" else "false")
        assert interpreter.decide(d, d.step("check"), outcome, attempt=1).next == (target,)


def test_complete_and_fail_end_the_run():
    d = make(
        [
            {"key": "ok", "kind": "complete", "config": {"output": "{{trigger.x}}"}},
            {"key": "no", "kind": "fail", "config": {"message": "bad {{trigger.x}}"}},
        ]
    )
    done = interpreter.decide(
        d, d.step("ok"), interpreter.run_step(d.step("ok"), ctx_for(d, "ok", {"x": [1, 2]})), attempt=1
    )
    assert done.finish == "succeeded" and done.output == [1, 2]
    failed = interpreter.decide(
        d, d.step("no"), interpreter.run_step(d.step("no"), ctx_for(d, "no", {"x": 7})), attempt=1
    )
    assert failed.finish == "failed" and failed.error == "bad 7"


def test_retryable_failures_retry_with_backoff_until_max_attempts():
    d = make(
        [
            {
                "key": "a",
                "kind": "action",
                "retry": {"max_attempts": 3, "initial_delay": 2, "multiplier": 2, "jitter": False},
            }
        ]
    )
    failure = Outcome.failed("HTTP 503", retryable=True)
    assert interpreter.decide(d, d.step("a"), failure, attempt=1).retry_in == 2
    assert interpreter.decide(d, d.step("a"), failure, attempt=2).retry_in == 4
    assert interpreter.decide(d, d.step("a"), failure, attempt=3).finish == "failed"


def test_non_retryable_failure_is_not_retried():
    d = make([{"key": "a", "kind": "action"}])
    decision = interpreter.decide(d, d.step("a"), Outcome.failed("HTTP 422", retryable=False), attempt=1)
    assert decision.retry_in is None and decision.finish == "failed" and "HTTP 422" in decision.error


def test_retry_after_is_honoured_and_jitter_stays_within_half_to_full_delay():
    policy = RetryPolicy(initial_delay=10, multiplier=2, max_delay=15, jitter=True)
    assert policy.delay(1, rand=0.0) == 5 and policy.delay(1, rand=1.0) == 10
    assert policy.delay(3, rand=1.0) == 15  # capped at max_delay
    assert policy.delay(1, retry_after=42, rand=0.0) == 42


def test_error_policies_continue_goto_and_notify():
    base = {"kind": "action", "retry": {"max_attempts": 1}}
    d = make(
        [
            {"key": "a", **base, "on_error": "continue"},
            {"key": "b", **base, "on_error": "goto", "on_error_goto": "d"},
            {"key": "c", **base, "on_error": "notify"},
            {"key": "d", **base},
        ]
    )
    failure = Outcome.failed("boom")
    assert interpreter.decide(d, d.step("a"), failure, attempt=1).next == ("b",)
    assert interpreter.decide(d, d.step("b"), failure, attempt=1).next == ("d",)
    notify = interpreter.decide(d, d.step("c"), failure, attempt=1)
    assert notify.finish == "failed" and notify.notify is True


def test_a_step_that_overruns_its_timeout_fails_retryably():
    class Slow(RecordingActions):
        def run(self, action, inputs, *, ctx):
            time.sleep(2)

    d = make([{"key": "a", "kind": "action", "config": {"action": "x"}}])
    started = time.monotonic()
    outcome = interpreter.run_step(d.step("a"), ctx_for(d, "a", actions=Slow(), timeout=0.2))
    assert time.monotonic() - started < 1.5
    assert outcome.status == "failed" and outcome.retryable and "timed out after 0.2 s" in outcome.error


def test_an_unexpected_exception_in_a_step_becomes_a_failed_outcome():
    d = make([{"key": "a", "kind": "action", "config": {"action": "x"}}])
    outcome = interpreter.run_step(d.step("a"), ctx_for(d, "a", actions=RecordingActions(error=ValueError("bad"))))
    assert outcome.status == "failed" and "ValueError: bad" in outcome.error


def test_unknown_kind_fails_cleanly():
    d = make([{"key": "a", "kind": "teleport"}])
    outcome = interpreter.run_step(d.step("a"), ctx_for(d, "a"))
    assert outcome.status == "failed" and "unknown step kind 'teleport'" in outcome.error
