"""Validation before activation: each problem names the step and the field."""

from executions.engine.definition import Definition
from executions.engine.validation import validate


def problems(steps, **kw):
    return [(p.step, p.field, p.message) for p in validate(Definition.from_dict({"steps": steps}), **kw)]


def test_a_valid_linear_definition_has_no_problems():
    assert (
        problems([{"key": "a", "kind": "action", "config": {"action": "log"}}, {"key": "b", "kind": "complete"}]) == []
    )


def test_empty_definition_is_refused():
    assert problems([]) == [(None, "steps", "add at least one step")]


def test_unknown_step_kind_names_the_step_and_field():
    [(step, field, message)] = problems([{"key": "a", "kind": "teleport"}])
    assert (step, field) == ("a", "kind") and "unknown step kind 'teleport'" in message


def test_dangling_next_names_the_target():
    [(step, field, message)] = problems(
        [{"key": "a", "kind": "action", "config": {"action": "log"}, "next": "nowhere"}]
    )
    assert (step, field) == ("a", "next") and "'nowhere'" in message


def test_dangling_branch_target_is_reported():
    found = problems(
        [{"key": "c", "kind": "condition", "config": {"expression": "true"}, "branches": {"true": "ghost"}}]
    )
    assert ("c", "branches.true") in [(s, f) for s, f, _ in found]


def test_missing_required_config_is_reported():
    assert ("a", "config.action") in [(s, f) for s, f, _ in problems([{"key": "a", "kind": "action"}])]
    assert ("c", "config.expression") in [(s, f) for s, f, _ in problems([{"key": "c", "kind": "condition"}])]


def test_duplicate_bad_and_reserved_keys_are_reported():
    found = problems(
        [
            {"key": "a", "kind": "complete"},
            {"key": "a", "kind": "complete"},
            {"key": "Bad Key", "kind": "complete"},
            {"key": "trigger", "kind": "complete"},
        ]
    )
    fields = [(s, f) for s, f, _ in found]
    assert ("a", "key") in fields and ("Bad Key", "key") in fields and ("trigger", "key") in fields


def test_expression_syntax_errors_are_found_before_activation():
    found = problems([{"key": "c", "kind": "condition", "config": {"expression": "{{trigger.x}} === "}}])
    assert [(s, f) for s, f, _ in found] == [("c", "config.expression")]


def test_unreachable_steps_are_reported():
    found = problems([{"key": "a", "kind": "complete"}, {"key": "b", "kind": "complete"}])
    assert found == [("b", "key", "no path from the first step reaches this step")]


def test_the_action_checker_is_consulted_for_action_steps():
    from executions.engine.problems import Problem

    def checker(step):
        return [Problem(step.key, "config.input.to", "is required")]

    assert problems([{"key": "a", "kind": "action", "config": {"action": "send_email"}}], check_action=checker) == [
        ("a", "config.input.to", "is required")
    ]


def log(key, message="x", **extra):
    return {"key": key, "kind": "action", "config": {"action": "log", "inputs": {"message": message}}, **extra}


def test_an_unconditional_cycle_is_an_endless_loop():
    found = problems([log("a"), log("b", next="a")])
    assert found == [("a", "next", "endless loop through a → b; add a condition that leaves it, or use a loop step")]


def test_a_cycle_through_a_condition_is_a_bounded_polling_loop():
    steps = [
        log("check"),
        {
            "key": "again",
            "kind": "condition",
            "config": {"expression": "vars.n < 3"},
            "branches": {"true": "check", "false": "done"},
        },
        {"key": "done", "kind": "complete"},
    ]
    assert problems(steps) == []


def test_referencing_a_step_that_cannot_have_run_yet_is_reported():
    found = problems([log("first", "{{second.result.id}}"), log("second")])
    assert found == [("first", "config.input.message", "uses 'second', which cannot have run before this step")]


def test_a_step_on_the_other_branch_cannot_be_referenced():
    steps = [
        {
            "key": "check",
            "kind": "condition",
            "config": {"expression": "trigger.x == 1"},
            "branches": {"true": "yes", "false": "no"},
        },
        log("yes", next="end"),
        log("no", "{{yes.result}}"),
    ]
    assert [(s, f) for s, f, _ in problems(steps)] == [("no", "config.input.message")]


def test_item_outside_a_loop_is_reported_and_inside_is_fine():
    outside = problems([log("a", "{{item.sku}}")])
    assert outside == [("a", "config.input.message", "uses 'item' or 'index' outside a loop's steps")]
    inside = [
        {"key": "each", "kind": "loop", "config": {"items": "{{trigger.items}}", "steps": ["body"]}},
        log("body", "{{item.sku}} {{index}}"),
        log("after", "{{each.result.results}} {{body.result}}"),
    ]
    assert problems(inside) == []


def test_parallel_branch_results_are_referenceable_after_the_join():
    steps = [
        {"key": "fan", "kind": "parallel", "config": {"branches": [["a"], ["b"]]}},
        log("a"),
        log("b"),
        log("after", "{{a.result}} {{b.result}}"),
    ]
    assert problems(steps) == []
