"""Templates and conditions: every guide variable, typed rendering, clear errors, and the sandbox."""

import time
from datetime import UTC, datetime

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from executions.engine import cel_helpers
from executions.engine.errors import ExpressionError
from executions.engine.expressions import check_syntax, evaluate, evaluate_condition, references, render

PAYLOAD = {"customer": {"email": "ada@example.com", "name": "Ada", "plan": "premium"}, "amount": 150, "tags": ["vip"]}
CTX = {
    "trigger": {
        **PAYLOAD,
        "payload": PAYLOAD,
        "timestamp": "2026-11-20T10:00:00+00:00",
        "source": "webhook",
        "note": "a === b and not c",
        "coupon_code": None,
    },
    "workflow": {"id": 3, "name": "Onboarding", "version": 2, "execution_id": 17, "started_at": "2026-11-20T10:00:01"},
    "step_1": {
        "result": {"verified": True, "items": [{"sku": "A1"}]},
        "status": "succeeded",
        "duration_ms": 12,
        "error": None,
        "attempts": 1,
    },
    "verify_email": {"result": {"ok": True}, "status": "succeeded"},
    "vars": {"total": 42},
    "item": {"sku": "B2"},
    "index": 4,
}
PLAIN = (type(None), bool, int, float, str, list, dict, datetime)


# --- rendering ------------------------------------------------------------------------------------


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
        ("{{step_1.error}}", None),
        ("{{step_1.result.items[0].sku}}", "A1"),
        ("{{verify_email.result.ok}}", True),
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


def test_a_whole_string_placeholder_keeps_the_type_even_when_computed():
    assert render("  {{ trigger.amount * 2 }}  ", CTX) == 300
    assert render("{{ trigger.tags + ['new'] }}", CTX) == ["vip", "new"]
    assert render("{{ {'n': index} }}", CTX) == {"n": 4}
    assert render("{{ trigger.amount > 100 }}", CTX) is True
    assert render("{{ null }}", CTX) is None


def test_text_around_placeholders_interpolates_as_text():
    text = "Hi {{trigger.customer.name}} ({{trigger.amount}}, {{step_1.result.verified}}, {{step_1.error}})"
    assert render(text, CTX) == "Hi Ada (150, true, )"
    assert render("tags={{trigger.tags}} c={{trigger.customer}}", CTX) == (
        'tags=["vip"] c={"email":"ada@example.com","name":"Ada","plan":"premium"}'
    )
    assert render("{{ index }}{{ index + 1 }}", CTX) == "45"


def test_nested_structures_are_rendered_and_non_strings_pass_through():
    config = {"to": ["{{trigger.customer.email}}"], "n": 3, "ok": None, "deep": {"x": ("{{index}}",)}}
    assert render(config, CTX) == {"to": ["ada@example.com"], "n": 3, "ok": None, "deep": {"x": [4]}}
    assert render("no placeholders here", CTX) == "no placeholders here"
    assert render(2.5, CTX) == 2.5


def test_braces_inside_string_literals_and_map_literals_do_not_close_a_placeholder():
    assert render("{{ '}}' }}", CTX) == "}}"
    assert render("{{ {'a': {'b': 1}} }}", CTX) == {"a": {"b": 1}}
    assert render('x{{ "{{" + "}}" }}y', CTX) == "x{{}}y"


def test_cel_values_come_back_as_plain_python():
    assert render("{{ timestamp(trigger.timestamp) }}", CTX) == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert render("{{ duration('90s') }}", CTX) == 90.0
    assert render("{{ b'abc' }}", CTX) == "abc"
    assert render("{{ {1: true} }}", CTX) == {"1": True}


# --- missing paths and fallbacks ------------------------------------------------------------------


def test_a_missing_path_names_the_full_path_and_the_step():
    with pytest.raises(ExpressionError) as exc:
        render("{{trigger.customer.phone}}", CTX, step="send_sms")
    assert (
        str(exc.value)
        == "step 'send_sms': 'trigger.customer.phone' is not defined (no key 'phone' in trigger.customer)"
    )
    assert exc.value.path == "trigger.customer.phone"
    assert exc.value.step == "send_sms"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("step_9.result", "'step_9.result' is not defined (no variable 'step_9')"),
        (
            "step_1.result.items[3].sku",
            "'step_1.result.items[3].sku' is not defined (no item 3 in step_1.result.items)",
        ),
        ("trigger.amount.cents", "'trigger.amount.cents' is not defined (trigger.amount is a number, not a map)"),
        # Evaluated by CEL, not the fast path: the message still names the path and the step.
        (
            "trigger.customer.phone == '1'",
            "'trigger.customer.phone' is not defined (no key 'phone' in trigger.customer)",
        ),
        ("step_1.result.items[3].sku == 'x'", "'step_1.result.items[3].sku' is not defined (no item 3 in"),
        ("size(step_9.result) > 0", "'step_9.result' is not defined (no variable 'step_9')"),
    ],
)
def test_missing_values_are_explained(expression, message):
    with pytest.raises(ExpressionError, match="^step 'notify': ") as exc:
        evaluate(expression, CTX, step="notify")
    assert message in str(exc.value)


def test_a_fallback_covers_a_missing_or_null_path():
    assert render('{{ trigger.coupon ?? "none" }}', CTX) == "none"
    assert render('{{ trigger.coupon_code ?? "none" }}', CTX) == "none"
    assert render("{{ trigger.amount ?? 0 }}", CTX) == 150
    assert render("{{ step_9.result ?? trigger.coupon ?? vars.total }}", CTX) == 42
    assert render("Code: {{ trigger.coupon ?? 'none' }}", CTX) == "Code: none"
    assert render("{{ trigger.coupon ?? null }}", CTX) is None
    assert render("{{ trigger.customer['phone'] ?? 'n/a' }}", CTX) == "n/a"


def test_a_fallback_works_inside_conditions():
    assert evaluate_condition('{{trigger.coupon ?? "none"}} === "none"', CTX) is True
    assert evaluate_condition("{{ trigger.coupon }} ?? false", CTX) is False


def test_a_fallback_does_not_hide_other_errors_or_a_missing_fallback():
    with pytest.raises(ExpressionError, match="division by zero"):
        evaluate("1 / 0 ?? 2", CTX)
    with pytest.raises(ExpressionError, match="'trigger.other' is not defined"):
        evaluate("trigger.coupon ?? trigger.other", CTX)
    with pytest.raises(ExpressionError, match="top level"):
        evaluate("(trigger.coupon ?? 1) + 1", CTX)


# --- conditions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('{{trigger.customer.plan}} === "premium"', True),
        ('{{trigger.customer.plan}} === "basic"', False),
        ('{{trigger.customer.plan}} !== "premium"', False),
        ("{{ trigger.amount }} > 100 && {{step_1.result.verified}}", True),
        ("{{step_1.result.verified}}", True),
        ("trigger.amount > 100 and not step_1.result.verified", False),
        ("trigger.amount < 100 || trigger.customer.plan == 'premium'", True),
        ("trigger.amount < 100 or !(trigger.amount >= 150)", False),
        ("trigger.amount <= 150 && trigger.amount != 151", True),
        ('"vip" in trigger.tags', True),
        ('trigger.tags contains "vip"', True),
        ('trigger.tags contains "new"', False),
        ('not trigger.tags contains "new"', True),
        ('trigger.customer.email contains "@example.com" and trigger.amount > 100', True),
        ('{{trigger.customer.email}} contains "@"', True),
        ('lower(trigger.customer.name) contains "ad"', True),
        ('"abc".contains("b")', True),
        ('contains(trigger.tags, "vip")', True),
        ('lower("ABC") == "abc" and upper(trigger.customer.plan) == "PREMIUM"', True),
        ("length(trigger.tags) == 1 && size(trigger.tags) == 1 && length(trigger.customer) == 3", True),
        ("trim('  x ') == 'x' && startswith(trigger.customer.email, 'ada') && endswith('abc', 'bc')", True),
        ("round(2.5) == 3 && round(2.675, 2) == 2.68", True),
        (
            "join(trigger.tags, ',') == 'vip' && sum([1, 2.5]) == 3.5 && min([3, 1]) == 1 && max(['a', 'b']) == 'b'",
            True,
        ),
        ("trigger.amount > 100 ? true : false", True),
        ("step_1.result.items.exists(i, i.sku == 'A1')", True),
        ("trigger.source == 'webhook' && workflow.version >= 2 && index == 4", True),
    ],
)
def test_conditions_in_the_guides_syntax_and_plain_cel(condition, expected):
    assert evaluate_condition(condition, CTX) is expected


def test_operators_inside_string_literals_are_left_alone():
    assert evaluate_condition('trigger.note == "a === b and not c"', CTX) is True
    assert evaluate_condition("trigger.note == 'a === b and not c'", CTX) is True
    assert evaluate_condition(r'"say \"x and y\" !== z" == "say \"x and y\" !== z"', CTX) is True
    assert evaluate_condition('"x contains y" != "x"', CTX) is True


def test_word_operators_only_match_whole_words():
    ctx = {"order_status": "paid", "android": True, "notice": 1, "orbit": 2, "x": {"and": 5}}
    assert evaluate_condition("order_status == 'paid' and android and notice == 1 and orbit == 2", ctx) is True
    assert evaluate_condition("x.and == 5", ctx) is True


def test_a_condition_that_is_not_true_or_false_is_an_error():
    with pytest.raises(ExpressionError, match="^step 'check': condition must be true or false, got '150'"):
        evaluate_condition("{{trigger.amount}}", CTX, step="check")
    for truthy_looking in ("trigger.customer.name", "trigger.tags", "1", "null"):
        with pytest.raises(ExpressionError, match="condition must be true or false"):
            evaluate_condition(truthy_looking, CTX)


def test_date_helpers_use_the_clock_that_time_machine_moves():
    with time_machine.travel(datetime(2026, 11, 24, 10, 0, tzinfo=UTC), tick=False):
        assert evaluate("days_since(trigger.timestamp)", CTX) == 4.0
        assert evaluate("hours_since(trigger.timestamp)", CTX) == 96.0
        assert evaluate("days_until('2026-11-25T10:00:00Z')", CTX) == 1.0
        assert evaluate_condition("days_since(trigger.timestamp) > 3", CTX) is True
        assert evaluate("now()", CTX) == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert evaluate('add_days("2026-11-24T00:00:00+00:00", 2)', CTX) == "2026-11-26T00:00:00+00:00"
    assert evaluate("parse_date('2026-11-24')", CTX) == datetime(2026, 11, 24, tzinfo=UTC)


def test_the_clock_can_be_patched(monkeypatch):
    monkeypatch.setattr(cel_helpers, "utcnow", lambda: datetime(2026, 12, 20, 10, 0, tzinfo=UTC))
    assert evaluate("days_since(trigger.timestamp)", CTX) == 30.0
    assert evaluate_condition("days_since(timestamp(trigger.timestamp)) == 30.0", CTX) is True


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("lower(trigger.amount)", "lower(): expected text, got a number"),
        ("days_since('soon')", "days_since(): 'soon' is not a date"),
        ("lower('a', 'b')", "lower() does not take 2 values"),
        ("max([])", "max(): the list is empty"),
        ("sum(['a'])", "sum(): expected a list of numbers, got text"),
        ("shout('a')", "unknown function 'shout'"),
    ],
)
def test_helper_mistakes_are_expression_errors_naming_the_helper(expression, message):
    with pytest.raises(ExpressionError, match="^step 's': ") as exc:
        evaluate(expression, CTX, step="s")
    assert message in str(exc.value)


# --- validation -----------------------------------------------------------------------------------


def test_syntax_errors_are_found_without_data():
    assert check_syntax('{{trigger.x}} === "a"', condition=True) == []
    assert check_syntax("Hello {{trigger.name}}, {{ lower(vars.x) ?? '' }}") == []
    assert check_syntax("no placeholders") == []
    assert check_syntax('{{trigger.x}} === "a" and step_1.ok', condition=True) == []
    assert check_syntax("{{trigger.x}} === ", condition=True) == [
        "syntax error in '{{trigger.x}} ===': it ends too early"
    ]
    assert check_syntax("{{ trigger.x == }}")
    assert check_syntax("{{ unclosed") == ["'{{' without a closing '}}' in '{{ unclosed'"]
    assert check_syntax("{{ a }} and {{ b = 1 }}") == ["unexpected character '=' (use == to compare) in 'b = 1'"]
    assert check_syntax("{{ 'open }}")
    assert check_syntax("{{ a ?? }}")
    assert check_syntax("{{ {{ a }} }}")


def test_references_names_the_roots_an_expression_reads():
    condition = '{{trigger.customer.plan}} === "premium" && step_1.result.ok'
    assert references(condition, condition=True) == {"trigger", "step_1"}
    assert references("Hi {{verify_email.result.name}} {{lower(vars.x)}}") == {"verify_email", "vars"}
    assert references("{{ step_2.result ?? step_1.result }}") == {"step_1", "step_2"}
    # Names bound by comprehensions are not variables of the workflow.
    assert references("step_1.result.items.exists(i, i.sku == 'A')", condition=True) == {"step_1"}
    assert references("'step_3.result' == trigger.x", condition=True) == {"trigger"}
    assert references("{{ broken( }}") == set()


# --- the sandbox ----------------------------------------------------------------------------------

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
    "size([0,0,0,0,0,0,0,0,0,0].map(a, [0,0,0,0,0,0,0,0,0,0].map(b, [0,0,0,0,0,0,0,0,0,0].map(c, "
    "[0,0,0,0,0,0,0,0,0,0].map(d, [0,0,0,0,0,0,0,0,0,0].map(e, [0,0,0,0,0,0,0,0,0,0]))))))",
    "trigger.payload.__dict__",
    "lambda: 1",
    'open("/etc/passwd")',
    'os.system("id")',
    "{{ {{ }} }}",
    "eval('1')",
    "exec('import os')",
    "().__class__.__bases__[0].__subclasses__()",
    "trigger['__class__']",
    "type(trigger).__name__",
    "dyn(trigger).__init__",
    "9223372036854775807 + 1",
    "[1][5]",
    "'a'.matches('(')",
    "trigger; import os",
    "`id`",
    "$(id)",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_known_sandbox_escapes_are_refused(payload):
    started = time.perf_counter()
    with pytest.raises(ExpressionError):
        evaluate(payload, CTX)
    with pytest.raises(ExpressionError):
        evaluate_condition(payload, CTX)
    with pytest.raises(ExpressionError):
        render("{{ " + payload + " }}", CTX)
    assert time.perf_counter() - started < 2


def test_harmless_cel_that_looks_odd_returns_plain_data():
    # One map over a one-item list: valid CEL that builds one small list, nothing to refuse.
    assert evaluate("size([0].map(a, [0,0,0,0,0,0,0,0,0,0]))", CTX) == 1
    # type() answers with the type's name as text, not a Python type object.
    assert evaluate("type(trigger)", CTX) == "map"


def test_python_objects_never_reach_the_evaluator():
    for odd in (object(), {1, 2}, b"bytes", {"k": lambda: 1}, {1: "int key"}):
        with pytest.raises(ExpressionError, match="unsupported value|map keys"):
            evaluate("x == 1", {"x": odd})
        with pytest.raises(ExpressionError, match="unsupported value"):
            render("{{ x }}", {"x": object()})
    assert evaluate("x", {"x": (1, 2)}) == [1, 2]
    assert evaluate("x + [3]", {"x": (1, 2)}) == [1, 2, 3]


def test_bad_arguments_are_expression_errors_too():
    for expression, context in ((None, CTX), (["a"], CTX), ("x", None), ("x", ["x"])):
        with pytest.raises(ExpressionError):
            evaluate(expression, context)
        with pytest.raises(ExpressionError):
            evaluate_condition(expression, context)
    assert check_syntax(None) == []
    assert references(None) == set()


def test_sizes_are_bounded():
    with pytest.raises(ExpressionError, match="longer than 4000"):
        evaluate("1 + " * 2000 + "1", CTX)
    big = {"s": "x" * 600_000, "deep": {}, "many": list(range(300_000))}
    node = big["deep"]
    for _ in range(100):
        node["d"] = node = {}
    with pytest.raises(ExpressionError, match="longer than 1000000"):
        render("{{ big.s }}{{ big.s }}", {"big": big})
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("[" + ",".join(["big.s"] * 200) + "]", {"big": big})
    with pytest.raises(ExpressionError, match="too deeply nested"):
        evaluate("big.deep == {}", {"big": big})
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("size(big.many) > 0", {"big": big})
    assert evaluate("big.many", {"big": big})[-1] == 299_999  # a plain path is read, not converted


@pytest.mark.parametrize(
    "expression",
    [
        "size(L.map(a, L))",  # 1000 × 1000-item lists: cel-rust copies the growing result each time
        "size(L.map(a, L.map(b, b)))",
        "L.all(a, L.all(b, size(L + L) > 0))",
        "size(" + " + ".join(["L"] * 200) + ")",
        "size(D.map(k, D.map(j, k)))",
    ],
)
def test_expressions_that_would_run_for_minutes_are_refused_up_front(expression):
    context = {"L": list(range(1000)), "D": {str(i): i for i in range(1000)}}
    started = time.perf_counter()
    with pytest.raises(ExpressionError, match="would take too long"):
        evaluate(expression, context, step="loop")
    assert time.perf_counter() - started < 1


def test_modest_list_work_is_allowed():
    context = {"L": list(range(1000)), "rows": [{"sku": f"A{i}", "price": i} for i in range(300)]}
    assert evaluate("size(L.map(a, a * 2))", context) == 1000
    assert evaluate("L.exists(a, L.exists(b, a == b + 998))", context) is True
    assert evaluate("size(rows.filter(r, r.price >= 100))", context) == 200
    assert evaluate("rows.filter(r, r.price < 2).map(r, r.sku)", context) == ["A0", "A1"]


# --- properties -----------------------------------------------------------------------------------

ENTRY_POINTS = (
    evaluate,
    evaluate_condition,
    render,
    lambda s, c: render("{{" + s + "}}", c),
    lambda s, c: render("x {{" + s + "}} y", c),
    lambda s, c: check_syntax(s, condition=True),
    lambda s, c: check_syntax(s),
    lambda s, c: references(s, condition=True),
)


def _only_values_or_expression_errors(source, context=CTX):
    for function in ENTRY_POINTS:
        started = time.perf_counter()
        try:
            result = function(source, context)
        except ExpressionError:
            continue
        finally:
            assert time.perf_counter() - started < 2, source
        assert _is_plain(result), (source, result)


def _is_plain(value):
    if isinstance(value, list | set):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return isinstance(value, PLAIN)


TOKENS = st.sampled_from(
    [
        "trigger", ".", "amount", "customer", "plan", "tags", "payload", "step_1", "result", "items", "[0]", "==",
        "===", "!==", "!=", "<", ">=", "&&", "||", "!", " and ", " or ", " not ", " in ", " contains ", "(", ")", "[",
        "]", "{",
        "}", "{{", "}}", "??", '"x"', "'y'", "'''", '"', "\\", "1", "0", "-1", "1.5", "2u", "null", "true", "+", "-",
        "*", "/", "%", "?", ":", ",", " ", "size(", "lower(", "days_since(", "join(", "max(", "round(", "now()",
        ".map(", ".filter(", ".exists(", ".all(", "a", "a,", "has(", "timestamp(", "duration(", "type(", "dyn(",
        "__class__", "__globals__", "9223372036854775807", "=", "@", "é", "\n",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(TOKENS, max_size=16).map("".join))
def test_token_soup_only_ever_yields_a_value_or_an_expression_error(source):
    _only_values_or_expression_errors(source)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_only_ever_yields_a_value_or_an_expression_error(text):
    _only_values_or_expression_errors(text)


def _grammar():
    """Small, mostly well-formed expressions: the parser accepts them, so evaluation is exercised."""
    leaves = st.sampled_from(
        ["trigger.amount", "trigger.tags", "trigger.customer", "trigger.customer.plan", "{{trigger.amount}}",
         "step_1.result.items", "trigger.coupon", "index", "1", "2.5", "'vip'", '"premium"', "true", "null", "[1, 2]",
         "{'k': 1}", "now()", "trigger.timestamp", "L"]
    )  # fmt: skip
    unary = st.sampled_from(["!", "-", "not ", "size(", "lower(", "length(", "days_since(", "max(", "sum(", "type("])
    binary = st.sampled_from(
        [" == ", " === ", " !== ", " < ", " + ", " * ", " / ", " && ", " and ", " || ", " or ", " in ", " contains ",
         " ?? "]
    )  # fmt: skip
    macro = st.sampled_from([".map(x, ", ".filter(x, ", ".exists(x, ", ".all(x, "])

    def extend(inner):
        return st.one_of(
            st.tuples(unary, inner).map(lambda t: f"{t[0]}{t[1]})" if t[0].endswith("(") else f"{t[0]}{t[1]}"),
            st.tuples(inner, binary, inner).map("".join),
            st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
            st.tuples(inner, macro, inner).map(lambda t: f"({t[0]}){t[1]}{t[2]})"),
            inner.map(lambda s: f"({s})"),
        )

    return st.recursive(leaves, extend, max_leaves=8)


@settings(max_examples=400, deadline=None)
@given(_grammar())
def test_grammar_expressions_only_ever_yield_a_value_or_an_expression_error(source):
    _only_values_or_expression_errors(source, {**CTX, "L": list(range(400))})
