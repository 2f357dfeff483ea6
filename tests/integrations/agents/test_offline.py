"""The offline provider's `extract`: user patterns run under RE2 (linear time), unsupported syntax is named."""

import time

import pytest

from executions.engine.errors import StepError
from integrations.agents.offline import OfflineProvider


class Agent:
    name = "Pattern Agent"


def extract(text: str, fields: dict) -> dict:
    request = {"action": "extract", "input": {"text": text}, "fields": fields}
    return OfflineProvider().perform(Agent(), request, schema={}, timeout=3.0)


def test_catastrophic_regex_runs_in_linear_time():
    started = time.monotonic()
    for pattern, text in [(r"(a+)+$", "a" * 100_000 + "!"), (r"(\w+\s?)+$", "word " * 20_000 + "!")]:
        assert extract(text, {"x": pattern})["missing"] == ["x"]
    assert time.monotonic() - started < 0.5


def test_built_in_patterns_still_find_their_fields():
    text = "Ann (ann@acme.io, +1 555 123 4567) paid €12.50, see https://acme.io/o/1042 for order 1042."
    found = extract(text, {"email": "email", "phone": "phone", "url": "url", "order": r"ORDER (\d+)"})["fields"]
    assert found == {
        "email": "ann@acme.io",
        "phone": "+1 555 123 4567",
        "url": "https://acme.io/o/1042",
        "order": "1042",
    }


@pytest.mark.parametrize("pattern", [r"(?<=x)y", r"(a)\1"])
def test_a_pattern_re2_cannot_run_fails_the_step_naming_the_field(pattern):
    with pytest.raises(StepError, match="pattern for field 'x' is not supported"):
        extract("xy", {"x": pattern})
