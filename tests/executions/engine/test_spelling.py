"""One spelling for a definition: the old ones (next_step, retry_max_attempts, an action's inputs) are read, noted."""

from executions.engine.definition import Definition
from executions.engine.spelling import canonical_definition, canonical_step

OLD = {
    "key": "mail",
    "kind": "action",
    "config": {"action": "log", "inputs": {"message": "hi"}},
    "next_step": "end",
    "retry_max_attempts": 5,
    "retry_jitter": False,
}


def test_old_spellings_are_read_as_the_current_ones_with_a_note_naming_each_field():
    step, notes = canonical_step(OLD, "steps[0]")
    assert step == {
        "key": "mail",
        "kind": "action",
        "config": {"action": "log", "input": {"message": "hi"}},
        "next": "end",
        "retry": {"max_attempts": 5, "jitter": False},
    }
    assert [n.split(":")[0] for n in notes] == [
        "steps[0].next_step",
        "steps[0].retry_max_attempts",
        "steps[0].retry_jitter",
        "steps[0].config.inputs",
    ]
    assert "deprecated spelling, write steps[0].retry.max_attempts" in notes[1]


def test_the_current_spelling_wins_when_both_are_given():
    step, _ = canonical_step(
        {**OLD, "next": "other", "retry": {"max_attempts": 2}, "config": {"inputs": 1, "input": 2}}
    )
    assert step["next"] == "other" and step["retry"] == {"max_attempts": 2, "jitter": False}
    assert step["config"] == {"input": 2}


def test_only_an_action_steps_inputs_is_renamed():
    step, notes = canonical_step({"key": "x", "kind": "agent", "config": {"agent": "A", "action": "log", "inputs": {}}})
    assert "inputs" in step["config"] and notes == []


def test_a_definition_in_the_current_spelling_has_no_notes_and_is_left_as_it_is():
    current = {"steps": [{"key": "a", "config": {"action": "log", "input": {}}, "next": "end", "retry": {}}]}
    assert canonical_definition(current) == (current, [])


def test_the_engine_runs_a_stored_definition_in_the_old_spelling():
    step = Definition.from_dict({"steps": [OLD, {"key": "later", "kind": "complete"}]}).step("mail")
    assert step.next == "end" and step.retry.max_attempts == 5 and step.retry.jitter is False
    assert step.config == {"action": "log", "input": {"message": "hi"}}
