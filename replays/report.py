"""The replay report as plain functions (no database): a run's path, two paths compared, a verdict, a summary.

A *trace* is what a run did: its final status, error and output, and one entry per step visit on its path (step
key, scope and visit; the last attempt's status, branch, input and output). `compare` lines two traces up step by
step and lists what differs: the outcome, a branch, a value (input or output, field by field), a new failure, a
step that ran only on one side. Values that differ on every run by nature (ids of approvals, times) are ignored.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter

FAILED = ("failed", "timed_out")
VOLATILE = frozenset(
    {"approval_id", "task_id", "execution_id", "waited_until", "fast_forwarded", "at", "created_at", "decided_at"}
)
CONFIG_INPUT = frozenset({"condition"})  # kinds whose recorded input is their expression: their effect is the branch
MAX_VALUES = 20  # value differences listed per step: a report stays readable when a whole payload changed
MAX_STORED = 2000  # characters of one input or output kept in the stored report
NO_ANSWER = "no answer to replay"  # executions.replaying.NO_ANSWER (the engine's side; kept free of Django here)
VERDICTS = ("same", "different", "newly_failing", "fixed", "no_answer", "not_started", "pending")


def trace(run: dict, step_rows: list[dict]) -> dict:
    """A run's path: `run` has status, error, error_step, output; `step_rows` are its StepRun rows in id order."""
    visits: dict[tuple, dict] = {}
    for row in step_rows:
        ident = (row["step_key"], row.get("scope") or "", row.get("visit") or 1)
        entry = visits.setdefault(ident, {"key": ident[0], "scope": ident[1], "visit": ident[2], "attempts": 0})
        entry["attempts"] += 1
        entry.update(
            kind=row.get("step_kind", ""),
            status=row["status"],
            branch=row.get("branch") or "",
            input=row.get("input"),
            output=row.get("output"),
            error=row.get("error") or "",
            recorded=_recorded(row.get("output")),
        )
    return {
        "status": run["status"],
        "error": run.get("error") or "",
        "error_step": run.get("error_step") or "",
        "output": run.get("output"),
        "steps": list(visits.values()),
    }


def _recorded(output) -> bool:
    """A test run's stand-in for a call it did not send (what it would have sent)."""
    return isinstance(output, dict) and output.get("test_mode") is True


def _ident(step: dict) -> tuple:
    return step["key"], step["scope"], step["visit"]


def flatten(value, prefix: str = "") -> dict:
    """{"a.b[0].c": leaf}; volatile keys left out; an empty dict or list is a leaf."""
    if isinstance(value, dict) and value:
        out = {}
        for key, item in value.items():
            if key not in VOLATILE:
                out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def value_changes(old, new, *, field: str) -> list[dict]:
    """Each leaf that differs, as {field, from, to} (at most MAX_VALUES)."""
    before, after = flatten(old), flatten(new)
    names = [k for k in sorted(set(before) | set(after)) if before.get(k, _GONE) != after.get(k, _GONE)]
    return [
        {"field": f"{field}.{k}" if k else field, "from": before.get(k), "to": after.get(k)} for k in names[:MAX_VALUES]
    ]


_GONE = object()


def align(old_steps: list[dict], new_steps: list[dict]) -> list[tuple[int | None, int | None]]:
    """Pairs of (old index, new index) in path order; None where a step ran on one side only."""
    a, b = [_ident(s) for s in old_steps], [_ident(s) for s in new_steps]
    pairs: list[tuple[int | None, int | None]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            pairs += list(zip(range(i1, i2), range(j1, j2), strict=True))
        else:
            pairs += [(i, None) for i in range(i1, i2)] + [(None, j) for j in range(j1, j2)]
    return pairs


def step_differences(old: dict, new: dict) -> list[dict]:
    """What differs in one step visit that ran on both sides."""
    found = []
    key = new["key"]
    if old["status"] != new["status"]:
        if new["status"] in FAILED and old["status"] not in FAILED:
            found.append({"kind": "new_failure", "step": key, "error": new["error"], "from": old["status"]})
        elif old["status"] in FAILED and new["status"] == "succeeded":
            found.append({"kind": "fixed", "step": key, "error": old["error"]})
        else:
            found.append({"kind": "status", "step": key, "from": old["status"], "to": new["status"]})
    if old["branch"] != new["branch"]:
        found.append({"kind": "branch", "step": key, "from": old["branch"], "to": new["branch"]})
    if old["input"] is not None and new["kind"] not in CONFIG_INPUT:  # the draft's own text is not an effect
        found += [{"kind": "value", "step": key, **c} for c in value_changes(old["input"], new["input"], field="input")]
    if not new["recorded"] and new["status"] == "succeeded" == old["status"]:
        found += [
            {"kind": "value", "step": key, **c} for c in value_changes(old["output"], new["output"], field="output")
        ]
    return found


def compare(old: dict, new: dict) -> dict:
    """Two traces side by side: `rows` (aligned path, each with its differences) and the flat `differences`."""
    rows, differences = [], []
    for i, j in align(old["steps"], new["steps"]):
        if j is None:
            found = [{"kind": "step_removed", "step": old["steps"][i]["key"]}]
        elif i is None:
            found = [{"kind": "step_added", "step": new["steps"][j]["key"]}]
        else:
            found = step_differences(old["steps"][i], new["steps"][j])
        rows.append({"old": i, "new": j, "differences": found})
        differences += found
    if old["status"] != new["status"]:
        differences.append({"kind": "outcome", "step": None, "from": old["status"], "to": new["status"]})
    final = value_changes(old["output"], new["output"], field="output")
    differences += [{"kind": "value", "step": None, **c} for c in final]
    return {"rows": rows, "differences": differences, "outcome_changed": old["status"] != new["status"] or bool(final)}


def verdict(old: dict, new: dict, differences: list[dict]) -> str:
    """same, different, newly_failing, fixed or no_answer (the draft stopped at an approval nobody answered)."""
    if new["status"] in FAILED and any(NO_ANSWER in s["error"] for s in new["steps"] if s["status"] in FAILED):
        return "no_answer"
    if new["status"] in FAILED and old["status"] not in FAILED:
        return "newly_failing"
    if old["status"] in FAILED and new["status"] == "succeeded":
        return "fixed"
    return "different" if differences else "same"


def summary(verdicts: list[str]) -> dict:
    """{"total": N, "same": …, "different": …, "newly_failing": …, …} (every verdict named, 0 when none)."""
    counts = Counter(verdicts)
    return {"total": len(verdicts), **{name: counts.get(name, 0) for name in VERDICTS}}


def stored(trace_: dict) -> dict:
    """The trace as the report keeps it: long inputs and outputs cut to a preview."""
    return {
        **trace_,
        "output": _short(trace_["output"]),
        "steps": [{**s, "input": _short(s["input"]), "output": _short(s["output"])} for s in trace_["steps"]],
    }


def _short(value):
    text = json.dumps(value, default=str)
    return value if len(text) <= MAX_STORED else {"truncated": True, "preview": text[:MAX_STORED]}


def show(value) -> str:
    """A value as one line of JSON for the report page."""
    if value is None:
        return "—"
    return json.dumps(value, default=str, ensure_ascii=False)


def describe(difference: dict) -> str:
    """One difference in words, e.g. "check_amount took branch false (was true)"."""
    kind, step = difference["kind"], difference.get("step")
    if kind == "branch":
        return f"{step} took branch {difference['to'] or '—'} (was {difference['from'] or '—'})"
    if kind == "value":
        where = f"{step} {difference['field']}" if step else f"run {difference['field']}"
        return f"{where}: {show(difference['to'])} (was {show(difference['from'])})"
    if kind == "new_failure":
        return f"{step} now fails: {difference['error']}"
    if kind == "fixed":
        return f"{step} no longer fails (was: {difference['error']})"
    if kind == "status":
        return f"{step} ended {difference['to']} (was {difference['from']})"
    if kind == "step_added":
        return f"{step} runs now (it did not then)"
    if kind == "step_removed":
        return f"{step} no longer runs"
    if kind == "outcome":
        return f"the run ends {difference['to']} (was {difference['from']})"
    return kind
