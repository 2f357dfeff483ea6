"""The replay report as plain functions: paths lined up, differences named, verdicts and the summary (no database)."""

from replays.report import align, compare, describe, flatten, stored, summary, trace, verdict


def row(key, status="succeeded", *, branch="", input=None, output=None, error="", kind="action", scope="", visit=1):
    return {
        "step_key": key, "step_kind": kind, "scope": scope, "visit": visit, "status": status, "branch": branch,
        "input": input, "output": output, "error": error,
    }  # fmt: skip


def run(status="succeeded", *rows, output=None, error=""):
    return trace({"status": status, "output": output, "error": error}, list(rows))


def test_a_trace_keeps_one_entry_per_step_visit_with_its_last_attempt():
    traced = run("succeeded", row("charge", "failed", error="503"), row("charge", output={"id": "ch_1"}), row("done"))
    assert [(s["key"], s["status"], s["attempts"]) for s in traced["steps"]] == [
        ("charge", "succeeded", 2),
        ("done", "succeeded", 1),
    ]


def test_identical_runs_are_the_same():
    old = run("succeeded", row("a", output={"x": 1}), row("b"))
    result = compare(old, run("succeeded", row("a", output={"x": 1}), row("b")))
    assert result["differences"] == [] and verdict(old, old, []) == "same"


def test_a_different_branch_and_the_steps_it_skips_and_adds_are_named():
    old = run("succeeded", row("check", branch="true", kind="condition"), row("approve", kind="approval"), row("pay"))
    new = run("succeeded", row("check", branch="false", kind="condition"), row("pay"), row("thank"))
    differences = compare(old, new)["differences"]
    assert {"kind": "branch", "step": "check", "from": "true", "to": "false"} in differences
    assert {"kind": "step_removed", "step": "approve"} in differences
    assert {"kind": "step_added", "step": "thank"} in differences
    assert verdict(old, new, differences) == "different"


def test_a_different_amount_is_a_value_difference_at_its_field():
    old = run("succeeded", row("pay", input={"amount": 100, "currency": "USD"}))
    new = run("succeeded", row("pay", input={"amount": 120, "currency": "USD"}))
    [difference] = compare(old, new)["differences"]
    assert difference == {"kind": "value", "step": "pay", "field": "input.amount", "from": 100, "to": 120}
    assert describe(difference) == "pay input.amount: 120 (was 100)"


def test_a_new_failure_makes_the_run_newly_failing_and_a_cured_one_fixed():
    ok = run("succeeded", row("pay"))
    broken = run("failed", row("pay", "failed", error="input 'to' is not a string"))
    differences = compare(ok, broken)["differences"]
    assert differences[0] == {
        "kind": "new_failure",
        "step": "pay",
        "error": "input 'to' is not a string",
        "from": "succeeded",
    }
    assert {"kind": "outcome", "step": None, "from": "succeeded", "to": "failed"} in differences
    assert verdict(ok, broken, differences) == "newly_failing"
    assert verdict(broken, ok, compare(broken, ok)["differences"]) == "fixed"


def test_an_approval_nobody_answered_is_no_answer_rather_than_a_failure():
    old = run("succeeded", row("pay"))
    new = run("failed", row("approve", "failed", kind="approval", error="no answer to replay: run #4 has none"))
    assert verdict(old, new, compare(old, new)["differences"]) == "no_answer"


def test_recorded_calls_compare_their_inputs_but_not_their_stand_in_output():
    old = run("succeeded", row("mail", input={"to": "a@x"}, output={"sent": 1}))
    new = run("succeeded", row("mail", input={"to": "b@x"}, output={"test_mode": True, "would_send": {}}))
    differences = compare(old, new)["differences"]
    assert [d["field"] for d in differences] == ["input.to"]


def test_ids_and_times_that_differ_on_every_run_are_ignored():
    old = run("succeeded", row("ok", kind="approval", output={"approval_id": 1, "status": "approved", "at": "09:00"}))
    new = run("succeeded", row("ok", kind="approval", output={"approval_id": 9, "status": "approved", "at": "10:00"}))
    assert compare(old, new)["differences"] == []


def test_a_conditions_expression_is_the_drafts_change_not_a_difference():
    old = run("succeeded", row("check", kind="condition", input={"expression": "x > 1"}, branch="true"))
    new = run("succeeded", row("check", kind="condition", input={"expression": "x > 5"}, branch="true"))
    assert compare(old, new)["differences"] == []


def test_the_final_output_and_outcome_count_as_changed():
    old, new = run("succeeded", output={"total": 10}), run("succeeded", output={"total": 12})
    result = compare(old, new)
    assert result["outcome_changed"] and result["differences"][0]["field"] == "output.total"


def test_paths_line_up_around_inserted_steps_and_loop_items_are_their_own_visits():
    old = trace({"status": "succeeded"}, [row("a"), row("item", scope="0"), row("item", scope="1"), row("z")])
    new = trace(
        {"status": "succeeded"}, [row("a"), row("new"), row("item", scope="0"), row("item", scope="1"), row("z")]
    )
    assert align(old["steps"], new["steps"]) == [(0, 0), (None, 1), (1, 2), (2, 3), (3, 4)]


def test_flatten_names_nested_fields_and_list_items():
    assert flatten({"a": {"b": [1, {"c": 2}]}, "e": {}}) == {"a.b[0]": 1, "a.b[1].c": 2, "e": {}}


def test_the_summary_counts_every_verdict():
    assert summary(["same", "same", "newly_failing"]) == {
        "total": 3, "same": 2, "different": 0, "newly_failing": 1, "fixed": 0, "no_answer": 0, "not_started": 0,
        "pending": 0,
    }  # fmt: skip


def test_the_stored_report_cuts_long_values_to_a_preview():
    long = run("succeeded", row("a", output={"text": "x" * 5000}))
    kept = stored(long)["steps"][0]["output"]
    assert kept["truncated"] is True and len(kept["preview"]) == 2000
