"""Definition files (YAML or JSON) are read within budgets: alias bombs, deep nesting and odd types refused."""

import time

import pytest
from django.core.exceptions import ValidationError

from workflows import io
from workflows.safe_yaml import MAX_BYTES, MAX_NODES, shipped_yaml

ALIAS_BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
    ]
)


def refused(text) -> str:
    with pytest.raises(ValidationError) as caught:
        io.parse(text)
    return str(caught.value.message_dict["definition"])


def test_yaml_alias_bomb_is_refused_quickly():
    assert len(ALIAS_BOMB) < 400
    started = time.monotonic()
    assert "aliases" in refused(ALIAS_BOMB)
    assert time.monotonic() - started < 0.1


def test_few_aliases_that_repeat_a_big_block_are_refused_by_the_node_budget():
    block = "[" + ",".join(["x"] * 5_000) + "]"
    text = f"a: &a {block}\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nsteps: []\n"
    assert f"more than {MAX_NODES} values" in refused(text)


def test_an_alias_to_itself_is_refused():
    assert "refers to itself" in refused("a: &a [*a]\nsteps: []")


def test_a_few_aliases_still_work_and_are_plain_copies():
    data = io.parse("base: &base {retry: 3}\nsteps: []\nother: *base\n")
    assert data["other"] == {"retry": 3} and data["other"] is not data["base"]


def test_deeply_nested_yaml_is_refused():
    assert "nested more than" in refused("[" * 10_000)


def test_an_oversized_definition_file_is_refused_before_it_is_read():
    with pytest.raises(io.DefinitionTooLarge):
        io.parse("#" * (MAX_BYTES + 1))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("x: .nan\nsteps: []", "nan is not a number"),
        ("x: .inf\nsteps: []", "inf is not a number"),
        ("x: " + "1" * 5_000 + "\nsteps: []", "digits"),
        ("x: " + "1" * 200 + "\nsteps: []", "more than 100 digits"),
        ("x: !!binary aGVsbG8=\nsteps: []", "bytes value is not allowed"),
    ],
)
def test_values_json_cannot_hold_are_refused_by_name(text, why):
    assert why in refused(text)


def test_dates_become_iso_text():
    assert io.parse("start: 2030-01-02\nsteps: []")["start"] == "2030-01-02"


def test_the_shipped_files_read_by_libyaml_are_what_the_safe_loader_reads():
    import yaml

    from workflows.library import template_files
    from workflows.management.commands.load_demo import DEMO_DIR

    shipped = [*template_files(), *DEMO_DIR.glob("*.yaml"), DEMO_DIR / "knowledge" / "articles.yaml"]
    assert len(shipped) > 14
    for path in shipped:
        assert shipped_yaml(path.read_text()) == yaml.safe_load(path.read_text()), path
