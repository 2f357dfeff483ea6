"""Templates and conditions: every guide variable, typed rendering, clear errors, and the sandbox."""

from datetime import UTC, datetime

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from executions.engine.errors import ExpressionError
from executions.engine.expressions import check_syntax, evaluate, evaluate_condition, references, render

PAYLOAD = {"customer": {"email": "ada@example.com", "name": "Ada", "plan": "premium"}, "amount": 150, "tags": ["vip"]}
CTX = {
    "trigger": {**PAYLOAD, "payload": PAYLOAD, "timestamp": "2026-11-20T10:00:00+00:00", "source": "webhook"},
    "workflow": {"id": 3, "name": "Onboarding", "version": 2, "execution_id": 17, "started_at": "2026-11-20T10:00:01"},
    "step_1": {"result": {"verified": True, "items": [{"sku": "A1"}]}, "status": "succeeded", "duration_ms": 12},
    "vars": {"total": 42},
    "item": {"sku": "B2"},
    "index": 4,
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{trigger.payload}}", PAYLOAD),
        ("{{trigger.payload.customer}}", PAYLOAD["customer"]),
        ("{{trigger.timestamp}}", "2026-11-20T10:00:00+00:00"),
        ("{{trigger.source}}", "webhook"),
        ("{{trigger.customer.email}}", "ada@example.com"),
        ("{{step_1.result.verified}}", True),
        ("{{step_1.status}}", "succeeded"),
        ("{{step_1.duration_ms}}", 12),
        ("{{step_1.result.items[0].sku}}", "A1"),
        ("{{workflow.id}}", 3),
        ("{{workflow.execution_id}}", 17),
        ("{{workflow.started_at}}", "2026-11-20T10:00:01"),
        ("{{ item.sku }}", "B2"),
        ("{{index}}", 4),
        ("{{vars.total}}", 42),
    ],
)
def test_every_guide_variable_resolves_with_its_type(template, expected):
    assert render(template, CTX) == expected


def test_text_around_placeholders_interpolates_as_text():
    assert (
        render("Hi {{trigger.customer.name}} ({{trigger.amount}}, {{step_1.result.verified}})", CTX)
        == "Hi Ada (150, true)"
    )
    assert render("tags={{trigger.tags}}", CTX) == 'tags=["vip"]'


def test_nested_structures_are_rendered_and_non_strings_pass_through():
    assert render({"to": ["{{trigger.customer.email}}"], "n": 3, "ok": None}, CTX) == {
        "to": ["ada@example.com"],
        "n": 3,
        "ok": None,
    }


def test_a_missing_path_names_the_full_path_and_the_step():
    with pytest.raises(ExpressionError) as exc:
        render("{{trigger.customer.phone}}", CTX, step="send_sms")
    assert (
        str(exc.value)
        == "step 'send_sms': 'trigger.customer.phone' is not defined (no key 'phone' in trigger.customer)"
    )
    assert exc.value.path == "trigger.customer.phone"


def test_a_fallback_covers_a_missing_path():
    assert render('{{ trigger.coupon ?? "none" }}', CTX) == "none"
    assert render("{{ trigger.amount ?? 0 }}", CTX) == 150


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('{{trigger.customer.plan}} === "premium"', True),
        ('{{trigger.customer.plan}} !== "premium"', False),
        ("{{trigger.amount}} > 100 && {{step_1.result.verified}}", True),
        ("trigger.amount > 100 and not step_1.result.verified", False),
        ("trigger.amount < 100 || trigger.customer.plan == 'premium'", True),
        ("trigger.amount < 100 or !(trigger.amount >= 150)", False),
        ('"vip" in trigger.tags', True),
        ('trigger.tags contains "vip"', True),
        ('trigger.customer.email contains "@example.com"', True),
        ('lower("ABC") == "abc" and upper(trigger.customer.plan) == "PREMIUM"', True),
        ("length(trigger.tags) == 1 && size(trigger.tags) == 1", True),
        ("trigger.amount > 100 ? true : false", True),
    ],
)
def test_conditions_in_the_guides_syntax_and_plain_cel(condition, expected):
    assert evaluate_condition(condition, CTX) is expected


def test_operators_inside_string_literals_are_left_alone():
    ctx = {**CTX, "trigger": {**CTX["trigger"], "note": "a === b and not c"}}
    assert evaluate_condition('trigger.note == "a === b and not c"', ctx) is True


def test_date_helpers_use_the_clock():
    with time_machine.travel(datetime(2026, 11, 24, 10, 0, tzinfo=UTC), tick=False):
        assert evaluate("days_since(trigger.timestamp)", CTX) == 4.0
        assert evaluate_condition("days_since(trigger.timestamp) > 3", CTX) is True
        assert evaluate('add_days("2026-11-24T00:00:00+00:00", 2)', CTX) == "2026-11-26T00:00:00+00:00"


def test_a_condition_that_is_not_true_or_false_is_an_error():
    with pytest.raises(ExpressionError, match="condition must be true or false"):
        evaluate_condition("{{trigger.amount}}", CTX, step="check")


def test_syntax_errors_are_found_without_data():
    assert check_syntax('{{trigger.x}} === "a"', condition=True) == []
    assert check_syntax("Hello {{trigger.name}}") == []
    assert check_syntax("{{trigger.x}} === ", condition=True)
    assert check_syntax("{{ trigger.x == }}")
    assert check_syntax("{{ unclosed")


def test_references_names_the_roots_an_expression_reads():
    assert references('{{trigger.customer.plan}} === "premium" && step_1.result.ok', condition=True) == {
        "trigger",
        "step_1",
    }
    assert references("Hi {{verify_email.result.name}} {{lower(vars.x)}}") == {"verify_email", "vars"}


ESCAPES = [
    "__class__",
    "trigger.__class__",
    "trigger.__class__.__mro__",
    '"".__class__',
    'constructor.constructor("return process")()',
    "{0.__globals__}",
    "'A'*10**9",
    '"A" * 1000000000',
    '__import__("os")',
    'getattr(trigger, "x")',
    "[1,2,3].map(x, x * 99999999999999999999)",
    "trigger.payload.__dict__",
    "lambda: 1",
    'open("/etc/passwd")',
    'os.system("id")',
    "{{ {{ }} }}",
    "eval('1')",
    "exec('import os')",
    "().__class__.__bases__[0].__subclasses__()",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_known_sandbox_escapes_are_refused(payload):
    with pytest.raises(ExpressionError):
        evaluate(payload, CTX)
    with pytest.raises(ExpressionError):
        evaluate_condition(payload, CTX)


def test_python_objects_never_reach_the_evaluator():
    with pytest.raises(ExpressionError, match="unsupported value"):
        evaluate("x.y", {"x": object()}) if False else evaluate("x + 1", {"x": object()})


def test_overlong_expressions_are_refused():
    with pytest.raises(ExpressionError, match="longer than"):
        evaluate("1 + " * 2000 + "1", CTX)


TOKENS = st.sampled_from(
    [
        "trigger",
        ".",
        "amount",
        "customer",
        "plan",
        "==",
        "===",
        "!==",
        "&&",
        "||",
        "!",
        "and",
        "or",
        "not",
        "(",
        ")",
        "[",
        "]",
        '"x"',
        "'y'",
        "1",
        "0",
        "-",
        "+",
        "*",
        "/",
        "%",
        "?",
        ":",
        "in",
        "contains",
        "size(",
        "lower(",
        "{{",
        "}}",
        " ",
        ",",
        "__class__",
        "??",
        "null",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TOKENS, max_size=14).map("".join))
def test_token_soup_only_ever_yields_a_value_or_an_expression_error(source):
    for function in (evaluate, evaluate_condition, lambda s, c: render("{{" + s + "}}", c)):
        try:
            function(source, CTX)
        except ExpressionError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_only_ever_yields_a_value_or_an_expression_error(text):
    for function in (evaluate, evaluate_condition, render):
        try:
            function(text, CTX)
        except ExpressionError:
            pass
