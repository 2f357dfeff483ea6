"""The one strict JSON reader: depth, NaN/Infinity, huge numbers and bad bytes are refused cheaply, by name."""

import time

import pytest

from faos.json_input import MAX_DEPTH, JSONInputError, json_parse


def test_plain_json_reads_as_before():
    assert json_parse(b'{"a": [1, 2.5, "x", null, true], "b": {"c": "[[[["}}') == {
        "a": [1, 2.5, "x", None, True],
        "b": {"c": "[[[["},
    }


def test_deeply_nested_json_is_refused_quickly():
    started = time.monotonic()
    with pytest.raises(JSONInputError, match=f"nested more than {MAX_DEPTH} levels"):
        json_parse("[" * 10_000 + "]" * 10_000)
    with pytest.raises(JSONInputError, match="nested"):
        json_parse('{"a":' * 100_000 + "1" + "}" * 100_000)
    assert time.monotonic() - started < 1


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert json_parse('["' + "[" * 10_000 + '\\"{"]') == ["[" * 10_000 + '"{']


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(constant):
    with pytest.raises(JSONInputError, match="not a JSON number"):
        json_parse(f'{{"amount": {constant}}}')


def test_a_number_too_big_for_a_float_is_refused():
    with pytest.raises(JSONInputError, match="out of range"):
        json_parse('{"amount": 1e999}')


def test_huge_integer_is_refused():
    with pytest.raises(JSONInputError, match="more than 100 digits"):
        json_parse('{"n": ' + "7" * 5_000 + "}")
    assert json_parse('{"n": ' + "7" * 100 + "}") == {"n": int("7" * 100)}


def test_bytes_that_are_not_utf8_are_refused():
    with pytest.raises(JSONInputError, match="not UTF-8"):
        json_parse(b'{"a": "\xff"}')
