"""`{{ … }}` templates and conditions, evaluated by CEL (data lookups and whitelisted helpers only)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import cel

from .errors import ExpressionError

MAX_SOURCE = 4_000
MAX_RESULT_CHARS = 1_000_000
MAX_LIST = 100_000
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
WHOLE = re.compile(r"^\s*\{\{(.*?)\}\}\s*$", re.DOTALL)
PATH = re.compile(r"^\s*([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[\d+\])*)\s*$")
PATH_PART = re.compile(r"\.([A-Za-z_]\w*)|\[(\d+)\]")
WORDS = {"and": "&&", "or": "||", "not": "!"}
SYMBOLS = {"===": "==", "!==": "!="}


def utcnow() -> datetime:
    """The clock helpers use; tests move it with time-machine."""
    return datetime.now(UTC)


# --- translation of the guide's syntax to CEL ----------------------------------------------------


def _tokens(text: str):
    """Split into ("str", literal) and ("code", text) pieces so literals are never rewritten."""
    i, start, quote = 0, 0, None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                yield "str", text[start : i + 1]
                start, quote = i + 1, None
        elif ch in "'\"":
            if i > start:
                yield "code", text[start:i]
            start, quote = i, ch
        i += 1
    if quote:
        raise ExpressionError("unterminated string literal", expression=text)
    if start < len(text):
        yield "code", text[start:]


def _translate_code(code: str) -> str:
    code = re.sub(r"\{\{(.*?)\}\}", r"(\1)", code, flags=re.DOTALL)
    code = re.sub(r"!==|===", lambda m: SYMBOLS[m.group(0)], code)
    code = re.sub(r"(?<![\w.])(and|or|not)(?!\w)", lambda m: f" {WORDS[m.group(1)]} ", code)
    return code


@lru_cache(maxsize=2048)
def translate(source: str) -> str:
    """Guide syntax (`{{a}} === "x" and not b`, `x contains y`) to CEL."""
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"expression longer than {MAX_SOURCE} characters", expression=source[:80])
    pieces = [(kind, _translate_code(text) if kind == "code" else text) for kind, text in _tokens(source)]
    out = "".join(text for _, text in pieces)
    return _infix_contains(out) if re.search(r"\bcontains\b", out) else out


def _infix_contains(code: str) -> str:
    """`a contains b` → `contains(a, b)` for simple operands (paths and literals)."""
    operand = r"""([\w.\[\]]+|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    return re.sub(rf"{operand}\s+contains\s+{operand}", r"contains(\1, \2)", code)


@lru_cache(maxsize=2048)
def _compiled(cel_source: str):
    try:
        return cel.compile(cel_source)
    except Exception as exc:  # noqa: BLE001 - the binding raises several types for syntax errors
        raise ExpressionError(f"syntax error in '{cel_source.strip()}': {_first_line(exc)}", expression=cel_source)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# --- helpers callable from expressions -----------------------------------------------------------


def _as_time(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{value}' is not a date or date-time")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bounded(value):
    if isinstance(value, str | list) and len(value) > MAX_LIST * 10:
        raise ValueError("result too large")
    return value


def _contains(haystack, needle) -> bool:
    if isinstance(haystack, str):
        return str(needle) in haystack
    if isinstance(haystack, list | dict):
        return needle in haystack
    raise ValueError(f"contains() needs a text, list or map, got {type(haystack).__name__}")


HELPERS = {
    "length": lambda x: len(x),
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "trim": lambda s: str(s).strip(),
    "now": lambda: utcnow(),
    "days_since": lambda t: (utcnow() - _as_time(t)).total_seconds() / 86400,
    "hours_since": lambda t: (utcnow() - _as_time(t)).total_seconds() / 3600,
    "days_until": lambda t: (_as_time(t) - utcnow()).total_seconds() / 86400,
    "add_days": lambda t, n: (_as_time(t) + timedelta(days=float(n))).isoformat(),
    "parse_date": lambda s: _as_time(s),
    "contains": _contains,
    "startswith": lambda s, p: str(s).startswith(str(p)),
    "endswith": lambda s, p: str(s).endswith(str(p)),
    "round": lambda x, n=0: round(float(x), int(n)),
    "join": lambda items, sep=", ": _bounded(str(sep).join(str(i) for i in items)),
    "sum": lambda items: sum(items),
    "min": lambda items: min(items),
    "max": lambda items: max(items),
}


# --- evaluation ------------------------------------------------------------------------------------


def _check_data(value, depth: int = 0):
    """Only JSON-like data (and datetimes) may reach CEL: never a Python object to poke at."""
    if depth > 64:
        raise ExpressionError("data nested too deeply")
    if value is None or isinstance(value, bool | int | float | str | datetime):
        return value
    if isinstance(value, list | tuple):
        return [_check_data(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _check_data(v, depth + 1) for k, v in value.items()}
    raise ExpressionError(f"unsupported value of type {type(value).__name__} in the context")


def _context(variables: dict) -> cel.Context:
    ctx = cel.Context()
    for name, value in variables.items():
        ctx.add_variable(name, _check_data(value))
    for name, function in HELPERS.items():
        ctx.add_function(name, function)
    return ctx


def _lookup(path: str, variables: dict, step: str | None):
    """Walk a dotted path directly: fast, and the error names the full path."""
    match = PATH.match(path)
    root, rest = match.group(1), match.group(2)
    if root not in variables:
        raise ExpressionError(
            f"'{path.strip()}' is not defined (no variable '{root}')", expression=path, step=step, path=path.strip()
        )
    value, walked = variables[root], root
    for key, index in PATH_PART.findall(rest):
        value, walked = _step_into(value, key, index, walked, path, step)
    return value


def _step_into(value, key, index, walked, path, step):
    if key and isinstance(value, dict) and key in value:
        return value[key], f"{walked}.{key}"
    if index and isinstance(value, list) and int(index) < len(value):
        return value[int(index)], f"{walked}[{index}]"
    what = f"no key '{key}'" if key else f"no item {index}"
    raise ExpressionError(
        f"'{path.strip()}' is not defined ({what} in {walked})", expression=path, step=step, path=path.strip()
    )


def evaluate(expression: str, context: dict, *, step: str | None = None):
    """Evaluate one expression (no braces) to a plain Python value."""
    if PATH.match(expression):
        return _lookup(expression, context, step)
    head, sep, fallback = _split_coalesce(expression)
    if sep:
        try:
            value = evaluate(head, context, step=step)
        except ExpressionError:
            value = None
        return evaluate(fallback, context, step=step) if value is None else value
    return _run_cel(expression, context, step)


def _split_coalesce(expression: str) -> tuple[str, str, str]:
    """Split `path ?? fallback` at the first `??` outside string literals."""
    offset = 0
    for kind, text in _tokens(expression):
        if kind == "code" and "??" in text:
            at = offset + text.index("??")
            return expression[:at], "??", expression[at + 2 :]
        offset += len(text)
    return expression, "", ""


def _run_cel(expression: str, context: dict, step: str | None):
    try:
        program = _compiled(translate(expression))
        result = program.execute(_context(context))
    except ExpressionError as exc:
        raise ExpressionError(str(exc).removeprefix(f"step '{step}': "), expression=expression, step=step)
    except (
        KeyError,
        ValueError,
        TypeError,
        RuntimeError,
        ZeroDivisionError,
        OverflowError,
        RecursionError,
        AttributeError,
        IndexError,
    ) as exc:
        reason = f"no key {exc}" if isinstance(exc, KeyError) else _first_line(exc)
        raise ExpressionError(f"cannot evaluate '{expression.strip()}': {reason}", expression=expression, step=step)
    return _plain(result, expression, step)


def _plain(value, expression: str, step: str | None):
    """CEL results back to JSON-like Python values, bounded in size."""
    if isinstance(value, cel.OptionalValue):
        value = value.value() if value.has_value() else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, str | list) and len(value) > MAX_RESULT_CHARS:
        raise ExpressionError("result is too large", expression=expression, step=step)
    if isinstance(value, list):
        return [_plain(v, expression, step) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, expression, step) for k, v in value.items()}
    return value


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    return str(value)


def render(value: Any, context: dict, *, step: str | None = None) -> Any:
    """Render placeholders in strings, dicts and lists; a lone `{{ x }}` keeps x's type."""
    if isinstance(value, dict):
        return {k: render(v, context, step=step) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context, step=step) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    whole = WHOLE.match(value)
    if whole and "{{" not in whole.group(1):
        return evaluate(whole.group(1), context, step=step)
    text = PLACEHOLDER.sub(lambda m: _text(evaluate(m.group(1), context, step=step)), value)
    if len(text) > MAX_RESULT_CHARS:
        raise ExpressionError("rendered text is too large", expression=value[:80], step=step)
    return text


def evaluate_condition(text: str, context: dict, *, step: str | None = None) -> bool:
    """A true/false condition in the guide's syntax or plain CEL; anything but a bool is an error."""
    whole = WHOLE.match(text)
    source = whole.group(1) if whole and "{{" not in whole.group(1) else text
    value = evaluate(source, context, step=step)
    if not isinstance(value, bool):
        raise ExpressionError(f"condition must be true or false, got {_text(value)[:80]!r}", expression=text, step=step)
    return value


def check_syntax(text: str, *, condition: bool = False) -> list[str]:
    """Syntax errors of a template (each placeholder) or a whole condition; [] when fine."""
    sources = [text] if condition else [m.group(1) for m in PLACEHOLDER.finditer(text)]
    if not condition and text.count("{{") != len(sources):
        return [f"unbalanced '{{{{' in {text[:80]!r}"]
    errors = []
    for source in sources:
        try:
            for part in _split_coalesce(source)[::2]:
                if part.strip():
                    _compiled(translate(part))
        except ExpressionError as exc:
            errors.append(str(exc))
    return errors


def references(text: str, *, condition: bool = False) -> set[str]:
    """Root variable names an expression reads (e.g. {"trigger", "step_1"}), as CEL's parser sees them."""
    sources = [text] if condition else [m.group(1) for m in PLACEHOLDER.finditer(text)]
    names: set[str] = set()
    for source in sources:
        for part in _split_coalesce(source)[::2]:
            if part.strip():
                names |= set(_compiled(translate(part)).variables())
    return names
