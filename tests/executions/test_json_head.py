"""A JSON value shown from its first characters (executions.admin.json_head): cut anywhere, it reads as the value's
start, trimmed like a whole value, and says where it goes on."""

import json

import pytest

from executions.admin.display import SHOWN_DEPTH, trim
from executions.admin.json_head import head_value

LOOP_OUTPUT = {"count": 3000, "items": list(range(3000)), "results": [{"message": f"hi {i}"} for i in range(3000)]}


def test_a_cut_list_shows_its_first_items_and_says_it_goes_on():
    text = json.dumps(LOOP_OUTPUT)[:5_000]  # cut inside "items"
    assert head_value(text) == {"count": 3000, "items": [*range(50), "… more items"], "…": "more keys"}


def test_a_whole_member_before_the_cut_is_trimmed_with_its_exact_count():
    text = json.dumps({"items": list(range(60)), "note": "x" * 1000})[:300]
    note = text.partition('"note": "')[2] + "…"
    assert head_value(text) == {"items": [*range(50), "… 10 more items"], "note": note, "…": "more keys"}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('{"a": [1, 2, 3], "b": 12', {"a": [1, 2, 3], "b": "…", "…": "more keys"}),  # 12 may be 1234
        ('{"a": [1, 2, 3], "b": tr', {"a": [1, 2, 3], "b": "…", "…": "more keys"}),
        ('{"a": [1, 2, 3], "b', {"a": [1, 2, 3], "…": "more keys"}),
        ('["caf\\u00e9", "x\\u00', ["café", "x…", "… more items"]),  # no half escape
        ('["\\ud83d\\ude00", "\\ud83d\\ude0', ["😀", "…", "… more items"]),  # no half of a surrogate pair
        ("[1, 2, [3, [4", [1, 2, [3, ["… more items"], "… more items"], "… more items"]),
    ],
)
def test_a_cut_anywhere_leaves_out_only_what_it_went_through(text, shown):
    assert head_value(text) == shown


def test_every_cut_of_a_value_reads_without_error_and_the_whole_text_reads_as_trim_does():
    value = {"a": [1, {"b": "xyz", "c": [True, None, -1.5e3]}], "é": '😀\n"quoted"', "n": 12345}
    text = json.dumps(value)
    for end in range(1, len(text)):
        json.dumps(head_value(text[:end]), ensure_ascii=False).encode()  # every cut is a value UTF-8 can carry
    assert head_value(text) == trim(value, SHOWN_DEPTH)


def test_deep_nesting_is_cut_at_the_shown_depth_without_recursing_through_it():
    shown = head_value("[" * 50_000)
    for _ in range(SHOWN_DEPTH):
        assert shown[-1] == "… more items"
        shown = shown[0]
    assert shown == "…"
