"""`{{ … }}` templates and conditions: the guide's syntax, translated to CEL, over JSON-like data only."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, NamedTuple

import cel

from .errors import ExpressionError

MAX_SOURCE = 4_000  # characters in one expression
MAX_TEXT = 1_000_000  # characters in a rendered string or a helper's result
MAX_DATA = 200_000  # data nodes handed to CEL (or returned) by one evaluation; converting costs ~1 µs each
MAX_DEPTH = 64
# CEL has no timeout, so work is estimated up front and refused over this (~1 s). cel-rust's map/filter copy
# their result so far on every item (items² × item size); nested comprehensions multiply.
MAX_WORK = 5_000_000
MACROS = {"all", "exists", "exists_one", "map", "filter"}
WORDS = {"and": "&&", "or": "||", "not": "!", "===": "==", "!==": "!="}
LITERALS = {"true", "false", "null"}
# An infix `contains` operand runs until one of these or an unmatched bracket: it binds tighter than `==`.
LOOSER = {"==", "!=", "<", "<=", ">", ">=", "in", "&&", "||", "?", ":", ",", "!", "contains"}
OPENERS, CLOSERS = {"(", "[", "{"}, {")", "]", "}"}
FALLBACK = "_fallback_"  # names the `{{ a ?? b }}` groups of a condition, evaluated before the rest
TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n\f]+)
    |(?P<str>(?:[bB]?[rR]|[rR][bB])(?:'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|"[^"\n]*")
      |[bB]?(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
    |(?P<num>0[xX][0-9a-fA-F]+[uU]?|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?[uU]?)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>===|!==|\?\?|\{\{|==|!=|<=|>=|&&|\|\||[-+*/%<>!?:.,()\[\]{}])""",
    re.X | re.S,
)
PATH = re.compile(r"\s*(?!(?:true|false|null)\b)[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*\s*", re.A)
PATH_PART = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]", re.A)


class MissingValue(ExpressionError):
    """A path or variable does not exist; `a ?? b` falls back to b on it."""


def utcnow() -> datetime:
    """The clock the date helpers read; tests patch it, and time-machine moves it."""
    return datetime.now(UTC)


def _short(text) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= 80 else text[:77] + "..."


# --- the guide's syntax to CEL ------------------------------------------------------------------


def _tokens(source: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) tokens; string literals stay whole so nothing rewrites their inside."""
    found, at = [], 0
    while at < len(source):
        if not (match := TOKEN.match(source, at)):
            char = source[at]
            what = "unterminated string literal" if char in "'\"" else f"unexpected character {char!r}"
            hint = " (use == to compare)" if char == "=" else ""
            raise ExpressionError(f"{what}{hint} in '{_short(source)}'", expression=source)
        found.append((match.lastgroup, match.group(), at))
        at = match.end()
    return found


def _placeholder_end(text: str, start: int) -> int:
    """Index just past the `}}` closing the `{{` at start; string literals and map braces are skipped."""
    depth, at, shown, window = 0, start + 2, _short(text[start:]), min(len(text), start + MAX_SOURCE + 4)
    while at < window:
        match = TOKEN.match(text, at, window)  # the window keeps a long template from being rescanned
        if not match and text[at] in "'\"":
            raise ExpressionError(f"unterminated string literal in '{shown}'", expression=text[start:window])
        token = match.group() if match else text[at]
        if token == "{{":
            raise ExpressionError(f"placeholders cannot be nested: '{shown}'", expression=text[start:window])
        if token == "}" and depth == 0:
            if text.startswith("}", at + 1):
                return at + 2
            raise ExpressionError(f"close the placeholder with '}}}}': '{shown}'", expression=text[start:window])
        depth += (token == "{") - (token == "}")
        at += len(token)
    if at < len(text):
        raise ExpressionError(
            f"a placeholder longer than {MAX_SOURCE} characters: '{shown}'", expression=text[start:window]
        )
    raise ExpressionError(f"'{{{{' without a closing '}}}}' in '{shown}'", expression=text[start:window])


def _placeholders(text: str) -> list[tuple[int, int, str]]:
    """(start, end, inner source) of every `{{ … }}` in a template."""
    found, at = [], 0
    while (start := text.find("{{", at)) != -1:
        at = _placeholder_end(text, start)
        found.append((start, at, text[start + 2 : at - 2]))
    return found


def _split_top(tokens: list) -> list[list]:
    """Split tokens at each `??` outside brackets."""
    parts, depth = [[]], 0
    for token in tokens:
        depth += 2 if token[1] == "{{" else (token[1] in OPENERS) - (token[1] in CLOSERS)
        parts.append([]) if token[1] == "??" and depth == 0 else parts[-1].append(token)
    return parts


@lru_cache(maxsize=2048)
def _alternatives(source: str) -> tuple[str, ...]:
    """`a ?? b ?? c` → ("a", "b", "c"): each is tried while the ones before are missing or null."""
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"expression longer than {MAX_SOURCE} characters", expression=source[:80])
    parts = tuple("".join(t[1] for t in part) for part in _split_top(_tokens(source)))
    if len(parts) > 1 and not all(p.strip() for p in parts):
        raise ExpressionError(f"'??' needs a value on each side in '{_short(source)}'", expression=source)
    return parts


def _translate(source: str) -> tuple[list[tuple[str, str]], list[str]]:
    """CEL tokens for the guide's syntax, and the `{{ a ?? b }}` groups to evaluate beforehand."""
    tokens = [t for t in _tokens(source) if t[0] != "ws"]
    out, fallbacks, i = [], [], 0
    while i < len(tokens):
        kind, text, offset = tokens[i]
        if text == "??":
            raise ExpressionError(f"'??' works only at the top level: '{_short(source)}'", expression=source)
        if text != "{{":
            dotted = i > 0 and tokens[i - 1][1] == "."  # `x.and` is a field, not an operator
            out.append(("op", WORDS[text]) if text in WORDS and (kind == "op" or not dotted) else (kind, text))
            i += 1
            continue
        end = _placeholder_end(source, offset)
        j = next((k for k in range(i, len(tokens)) if tokens[k][2] >= end), len(tokens))
        if len(_split_top(tokens[i + 1 : j - 2])) > 1:
            out.append(("name", f"{FALLBACK}{len(fallbacks)}"))
            fallbacks.append(source[offset + 2 : end - 2])
            i = j
        else:  # `{{ x }}` is just grouping: `(x)`
            out.append(("op", "("))
            tokens[j - 2 : j] = [("op", ")", tokens[j - 2][2])]
            i += 1
    return _infix_contains(out), fallbacks


def _operand_edge(tokens: list, at: int, step: int) -> int:
    depth, i = 0, at + step
    while 0 <= i < len(tokens):
        text = tokens[i][1]
        depth += ((text in OPENERS) - (text in CLOSERS)) * step
        if depth < 0 or (depth == 0 and text in LOOSER):
            break
        i += step
    return i


def _infix_contains(tokens: list) -> list:
    """`a contains b` → `contains(a, b)`; `x.contains(y)` and `contains(x, y)` stay as they are."""
    infix = lambda i: tokens[i] == ("name", "contains") and _at(tokens, i - 1) != "." and _at(tokens, i + 1) != "("  # noqa: E731
    while (at := next((i for i in range(len(tokens)) if infix(i)), None)) is not None:
        lo, hi = _operand_edge(tokens, at, -1) + 1, _operand_edge(tokens, at, 1)
        if lo == at or hi == at + 1:
            raise ExpressionError("'contains' needs a value on each side")
        call = [("name", "contains"), ("op", "("), *tokens[lo:at], ("op", ","), *tokens[at + 1 : hi], ("op", ")")]
        tokens = tokens[:lo] + call + tokens[hi:]
    return tokens


def _at(tokens: list, i: int) -> str:
    return tokens[i][1] if 0 <= i < len(tokens) else ""


class _Compiled(NamedTuple):
    """A compiled expression, and what must be known about it before running it."""

    program: Any
    variables: tuple[str, ...]
    roots: frozenset[str]  # the variables minus names bound by comprehensions
    helpers: tuple[str, ...]
    fallbacks: tuple[str, ...]
    paths: tuple[tuple[tuple, bool, int], ...]  # literal paths, whether a comprehension iterates it, token index
    macros: tuple[tuple[str, int, int], ...]  # (name, opening, closing token index)
    pluses: tuple[int, ...]  # token indexes of `+`: concatenation copies its operands
    commas: int
    needs: dict[str, set]  # per variable, the literal paths read in it: only those parts are converted


@lru_cache(maxsize=2048)
def _compile(source: str) -> _Compiled:
    tokens, fallbacks = _translate(source)
    try:
        program = cel.compile(" ".join(t[1] for t in tokens))
    except Exception as exc:  # noqa: BLE001 - the binding reports syntax errors as ValueError, maybe others
        raise ExpressionError(f"syntax error in '{_short(source)}': {_parse_reason(exc)}", expression=source)
    macros, paths, bound = _shape(tokens)
    variables = tuple(program.variables())
    roots = frozenset(v for v in variables if v not in bound and not v.startswith(FALLBACK))
    helpers = tuple(f for f in program.functions() if f in HELPERS)
    pluses = tuple(i for i, t in enumerate(tokens) if t == ("op", "+"))
    needs = {}
    for path, _, _ in paths:
        needs.setdefault(path[0], set()).add(path[1:])
    shape = tuple(paths), tuple(macros), pluses, tokens.count(("op", ",")), needs
    return _Compiled(program, variables, roots, helpers, tuple(fallbacks), *shape)


def _parse_reason(exc: Exception) -> str:
    found = re.search(r"ERROR: <input>:\d+:\d+: (?:Syntax error: )?([^\n]*)", str(exc))
    reason = found.group(1).split(" expecting")[0] if found else _first_line(exc)
    return reason.replace("mismatched input '<EOF>'", "it ends too early")[:200]


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


def _shape(tokens: list):
    """Comprehensions, literal paths (`a.b[0]['c']`) and comprehension-bound names, read off the tokens."""
    macros, paths, bound = [], [], set()
    named = lambda i: 0 <= i < len(tokens) and tokens[i][0] == "name" and tokens[i][1] not in LITERALS  # noqa: E731
    for i, (_, text) in enumerate(tokens):
        if not named(i):
            continue
        if _at(tokens, i - 1) == "." and text in MACROS and _at(tokens, i + 1) == "(":
            macros.append((text, i + 1, _closing(tokens, i + 1)))
            bound.add(_at(tokens, i + 2))
        elif _at(tokens, i - 1) != "." and _at(tokens, i + 1) != "(":
            path, j = [text], i + 1
            while True:
                if _at(tokens, j) == "." and named(j + 1) and _at(tokens, j + 2) != "(":
                    path, j = path + [tokens[j + 1][1]], j + 2
                elif _at(tokens, j) == "[" and _at(tokens, j + 2) == "]" and (key := _key(tokens[j + 1])) is not None:
                    path, j = path + [key], j + 3
                else:
                    break
            paths.append((tuple(path), _at(tokens, j) == "." and _at(tokens, j + 1) in MACROS, i))
    return macros, paths, bound


def _closing(tokens: list, opening: int) -> int:
    depth = 0
    for i in range(opening, len(tokens)):
        depth += (tokens[i][1] in OPENERS) - (tokens[i][1] in CLOSERS)
        if depth == 0:
            return i
    return len(tokens)


def _key(token):
    kind, text = token
    if kind == "num" and text.isdigit():
        return int(text)
    plain = kind == "str" and text[0] in "'\"" and "\\" not in text and text[:3] not in ("'''", '"""')
    return text[1:-1] if plain else None


# --- helpers callable from expressions ------------------------------------------------------------

_failure = threading.local()  # why the last helper failed, for the error message
_UNCONVERTIBLE = object()  # a failing helper returns this: cel cannot convert it and fails without logging


def _kind(value) -> str:
    names = {bool: "true/false", str: "text", list: "a list", dict: "a map", datetime: "a date-time"}
    return "null" if value is None else "a number" if type(value) in (int, float) else names.get(type(value), "?")


def _need(value, kinds, what: str):
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"expected {what}, got {_kind(value)}")
    return value


def _as_time(value) -> datetime:
    if isinstance(value, str) and len(value) <= 64:
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"'{value}' is not a date") from None
    moment = _need(value, (datetime,), "a date")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _contains(haystack, needle) -> bool:
    if isinstance(haystack, str):
        return _need(needle, (str,), "text") in haystack
    return needle in _need(haystack, (list, dict), "text, a list or a map")


def _round(number, digits=0):
    if not -10 <= _need(digits, (int,), "a whole number of digits") <= 10:
        raise ValueError("digits must be between -10 and 10")
    exact = Decimal(str(_need(number, (int, float), "a number"))).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    return int(exact) if digits <= 0 else float(exact)


def _numbers(items) -> list:
    return [_need(i, (int, float), "a list of numbers") for i in _need(items, (list,), "a list")]


def _extreme(items, pick):
    if not _need(items, (list,), "a list"):
        raise ValueError("the list is empty")
    return pick(items if all(isinstance(i, str) for i in items) else _numbers(items))


def _text_arg(s) -> str:
    return _need(s, (str,), "text")


HELPERS = {
    "length": lambda x: len(_need(x, (str, list, dict), "text, a list or a map")),
    "lower": lambda s: _text_arg(s).lower(),
    "upper": lambda s: _text_arg(s).upper(),
    "trim": lambda s: _text_arg(s).strip(),
    "now": lambda: utcnow(),
    "days_since": lambda ts: (utcnow() - _as_time(ts)).total_seconds() / 86400,
    "hours_since": lambda ts: (utcnow() - _as_time(ts)).total_seconds() / 3600,
    "days_until": lambda ts: (_as_time(ts) - utcnow()).total_seconds() / 86400,
    "add_days": lambda ts, n: (_as_time(ts) + timedelta(days=_need(n, (int, float), "a number"))).isoformat(),
    "parse_date": _as_time,
    "contains": _contains,
    "startswith": lambda s, prefix: _text_arg(s).startswith(_text_arg(prefix)),
    "endswith": lambda s, suffix: _text_arg(s).endswith(_text_arg(suffix)),
    "round": _round,
    "join": lambda items, sep: _text_arg(sep).join(_text(i) for i in _need(items, (list,), "a list")),
    "sum": lambda items: sum(_numbers(items)),
    "min": lambda items: _extreme(items, min),
    "max": lambda items: _extreme(items, max),
}


def _guarded(name: str, function):
    """A helper as cel calls it: failures are remembered for the message, results bounded."""

    def call(*args):
        try:
            result = function(*args)
            if isinstance(result, str) and len(result) > MAX_TEXT:
                raise ValueError(f"the result is longer than {MAX_TEXT} characters")
            return result
        except TypeError as exc:
            _failure.reason = f"{name}() does not take {len(args)} values" if "argument" in str(exc) else str(exc)
        except Exception as exc:  # noqa: BLE001 - any helper failure is the expression's error
            _failure.reason = str(exc)
        _failure.reason = f"{name}(): {_failure.reason}"
        return _UNCONVERTIBLE

    return call


_GUARDED = {name: _guarded(name, function) for name, function in HELPERS.items()}


# --- evaluation ---------------------------------------------------------------------------------


class _Stats:
    """What converting the data showed: nodes, longest list, biggest list item, each container's size."""

    def __init__(self):
        self.nodes, self.longest, self.item, self.sizes = 0, 0, 0, {}


def _data(value, stats: _Stats, depth: int = 0):
    """(copy for CEL, size): only JSON-like data and datetimes, so no Python object is reachable."""
    stats.nodes += 1
    if stats.nodes > MAX_DATA or depth > MAX_DEPTH:
        raise ExpressionError(f"the data is too large or too deeply nested for an expression (over {MAX_DATA})")
    if value is None or isinstance(value, bool | int | float | datetime):
        return value, 1
    if isinstance(value, str):
        return value, 1 + len(value) // 1024
    if isinstance(value, list | tuple):
        pairs = [_data(v, stats, depth + 1) for v in value]
        stats.longest, stats.item = max(stats.longest, len(pairs)), max([stats.item] + [s for _, s in pairs])
        stats.sizes[id(value)] = size = 1 + sum(s for _, s in pairs)
        return [v for v, _ in pairs], size
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        pairs = {k: _data(v, stats, depth + 1) for k, v in value.items()}
        stats.longest = max(stats.longest, len(pairs))  # comprehensions iterate a map's keys
        stats.sizes[id(value)] = size = 1 + sum(1 + s for _, s in pairs.values())
        return {k: v for k, (v, _) in pairs.items()}, size
    raise ExpressionError(f"unsupported value in the data: {type(value).__name__}")


def _lookup(parts: list, context: dict, text: str):
    """Walk a path through maps and lists (never attributes); a miss names the full path and why."""
    if parts[0] not in context:
        raise MissingValue(f"'{text}' is not defined (no variable '{parts[0]}')", expression=text, path=text)
    value, walked = context[parts[0]], parts[0]
    for part in parts[1:]:
        if isinstance(part, int) and isinstance(value, list | tuple) and 0 <= part < len(value):
            value, walked = value[part], f"{walked}[{part}]"
        elif isinstance(part, str) and isinstance(value, dict) and part in value:
            value, walked = value[part], f"{walked}.{part}" if part.isidentifier() else f"{walked}['{part}']"
        else:
            if isinstance(value, dict if isinstance(part, str) else list | tuple):
                why = f"no key '{part}'" if isinstance(part, str) else f"no item {part}"
                why = f"{why} in {walked}"
            else:
                why = f"{walked} is {_kind(value)}, not a {'map' if isinstance(part, str) else 'list'}"
            raise MissingValue(f"'{text}' is not defined ({why})", expression=text, path=text)
    return value


def _path_text(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" if p.isidentifier() else f"['{p}']" for p in path)[1:]


def _fast_path(source: str, context: dict):
    text = source.strip()
    value = _lookup([int(i) if i else key for key, i in PATH_PART.findall(text)], context, text)
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ExpressionError(f"'{text}' is longer than {MAX_TEXT} characters", expression=text)
    if value is None or isinstance(value, bool | int | float | str | list | tuple | dict | datetime):
        return list(value) if isinstance(value, tuple) else value
    raise ExpressionError(f"unsupported value at '{text}': {type(value).__name__}", expression=text)


def _evaluate(source: str, context: dict):
    """Evaluate `a ?? b ?? …`: the first alternative that exists and is not null."""
    if not isinstance(source, str) or not isinstance(context, dict):
        raise ExpressionError("an expression must be text and its variables a map")
    alternatives = _alternatives(source)
    for i, part in enumerate(alternatives, 1):
        try:
            value = _fast_path(part, context) if PATH.fullmatch(part) else _run(part, context)
        except MissingValue:
            if i == len(alternatives):
                raise
            continue
        if value is not None or i == len(alternatives):
            return value


def _run(source: str, context: dict):
    compiled, stats, env = _compile(source), _Stats(), cel.Context()
    for name in compiled.variables:  # only the data it reads: converting data is the main cost
        if name in context:
            env.add_variable(name, _data(_prune(context[name], compiled.needs.get(name, {()})), stats)[0])
    for i, inner in enumerate(compiled.fallbacks):
        env.add_variable(f"{FALLBACK}{i}", _data(_evaluate(inner, context), stats)[0])
    for name in compiled.helpers:
        env.add_function(name, _GUARDED[name])
    _check_work(compiled, context, stats, source)
    _failure.reason = None
    try:
        result = compiled.program.execute(env)
    except Exception as exc:  # noqa: BLE001 - cel raises KeyError, TypeError, RuntimeError, ...
        raise _runtime_error(exc, compiled, context, source) from None
    return _plain(result, [MAX_DATA])


def _prune(value, paths: set):
    """The parts of value that literal paths reach (each path's whole subtree); lists are kept whole."""
    if () in paths or not isinstance(value, dict):
        return value
    heads = {}
    for path in paths:
        heads.setdefault(path[0], set()).add(path[1:])
    return {key: _prune(value[key], rest) for key, rest in heads.items() if isinstance(key, str) and key in value}


def _check_work(compiled: _Compiled, context: dict, stats: _Stats, source: str):
    """Refuse what would run too long, estimated from the data's shape and the expression's."""
    sizes = {i: _path_size(p, context, stats) for p, iterated, i in compiled.paths if not iterated}
    literal = compiled.commas + 1  # no list literal is longer
    n = max(stats.longest, literal) * (len(compiled.pluses) + 1)
    item = max(stats.item, literal, *sizes.values(), 1)
    if _work(compiled, sizes, n, item, -1, 1 << 30) > MAX_WORK:
        raise ExpressionError(
            f"'{_short(source)}' would take too long: list operations over about {n} items "
            "(narrow the list first, or use a loop step)",
            expression=source,
        )


def _work(compiled: _Compiled, sizes: dict, n: int, item: int, lo: int, hi: int) -> int:
    """Cost of evaluating tokens lo..hi once; a comprehension runs its body once per item."""
    # Referenced data may be copied (by `+` once per operand); map/filter copy their result so far per item.
    plus = sum(lo < i < hi for i in compiled.pluses)
    total, end = 1 + (plus + 1) * sum(size for i, size in sizes.items() if lo < i < hi), lo
    for name, opening, closing in compiled.macros:
        if lo < opening < hi and opening > end:  # not inside a comprehension already counted
            body = _work(compiled, sizes, n, item, opening, closing)
            total += n * body + (n * n * item // 4 if name in ("map", "filter") else 0)
            end = closing
    return total


def _path_size(path: tuple, context: dict, stats: _Stats) -> int:
    value = context
    for key in path:
        container = dict if isinstance(key, str) else list | tuple
        if not isinstance(value, container) or (key not in value if container is dict else key >= len(value)):
            return 0
        value = value[key]
    return 1 + len(value) // 1024 if isinstance(value, str) else stats.sizes.get(id(value), 1)


def _runtime_error(exc: Exception, compiled: _Compiled, context: dict, source: str) -> ExpressionError:
    """cel's exception as an ExpressionError, naming the missing path when there is one."""
    reason = f"no key {exc}" if isinstance(exc, KeyError) else _first_line(exc).split(". ")[0]
    undefined = re.match(r"Undefined variable or function: '([^']*)'", reason)
    if undefined and undefined.group(1) in compiled.program.functions():
        return ExpressionError(f"unknown function '{undefined.group(1)}' in '{_short(source)}'", expression=source)
    if "Failed to convert Python result" in reason and getattr(_failure, "reason", None):
        return ExpressionError(f"cannot evaluate '{_short(source)}': {_failure.reason}", expression=source)
    if not (undefined or isinstance(exc, KeyError | IndexError)):
        return ExpressionError(f"cannot evaluate '{_short(source)}': {reason}", expression=source)
    for path, _, _ in compiled.paths:
        try:
            if path[0] in compiled.roots:
                _lookup(list(path), context, _path_text(path))
        except MissingValue as missing:
            missing.expression = source
            return missing
    return MissingValue(f"cannot evaluate '{_short(source)}': {reason}", expression=source)


def _plain(value, budget: list):
    """CEL's result as JSON-like Python data (datetimes kept), bounded in size."""
    if isinstance(value, cel.OptionalValue):
        value = value.value() if value.has_value() else None
    value = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    value = value.total_seconds() if isinstance(value, timedelta) else value
    budget[0] -= 1 + (len(value) // 64 if isinstance(value, str) else 0)
    if budget[0] < 0:
        raise ExpressionError("the result is too large")
    if value is None or isinstance(value, bool | int | float | str | datetime):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v, budget) for v in value]
    if isinstance(value, dict):
        return {_text(k): _plain(v, budget) for k, v in value.items()}
    raise ExpressionError(f"unsupported result: {type(value).__name__}")


def _text(value) -> str:
    """How a value reads inside text: JSON for maps and lists, '' for null, true/false."""
    if value is None or isinstance(value, bool):
        return {None: "", True: "true", False: "false"}[value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_text)
    return str(value)


def _guard(step: str | None, function, *args):
    """Public entry points raise ExpressionError and nothing else, naming the step."""
    try:
        return function(*args)
    except ExpressionError as exc:
        if step is None or exc.step is not None:
            raise
        raise type(exc)(str(exc), expression=exc.expression, step=step, path=exc.path) from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence: nothing else may escape
        raise ExpressionError(f"cannot evaluate: {type(exc).__name__}: {_first_line(exc)}", step=step) from None
    except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException, a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        raise ExpressionError(f"cannot evaluate: {_first_line(exc)}", step=step) from None


# --- public API -----------------------------------------------------------------------------------


def evaluate(expression: str, context: dict, *, step: str | None = None):
    """Evaluate one expression (no braces needed) to a plain Python value."""
    return _guard(step, _evaluate, expression, context)


def render(value, context: dict, *, step: str | None = None):
    """Render placeholders in strings, dicts and lists; a lone `{{ x }}` keeps x's type."""
    return _guard(step, _render, value, context)


def _render(value, context: dict):
    if isinstance(value, dict):
        return {k: _render(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render(v, context) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    spots = _placeholders(value)
    if len(spots) == 1 and not value[: spots[0][0]].strip() and not value[spots[0][1] :].strip():
        return _evaluate(spots[0][2], context)
    pieces, at, size = [], 0, len(value)
    for start, end, inner in spots:
        pieces += [value[at:start], _text(_evaluate(inner, context))]
        at, size = end, size + len(pieces[-1])
        if size > MAX_TEXT:
            raise ExpressionError(f"the rendered text is longer than {MAX_TEXT} characters", expression=inner)
    return "".join(pieces) + value[at:]


def evaluate_condition(text: str, context: dict, *, step: str | None = None) -> bool:
    """A true/false condition in the guide's syntax or plain CEL; anything but a bool is an error."""
    return _guard(step, _condition, text, context)


def _condition(text: str, context: dict) -> bool:
    value = _evaluate(_whole(text), context)
    if not isinstance(value, bool):
        raise ExpressionError(f"condition must be true or false, got {_short(_text(value))!r}", expression=text)
    return value


def _whole(text: str) -> str:
    """The inside of a condition that is a single `{{ … }}`, so a plain path takes the fast path."""
    return _whole_cached(text) if isinstance(text, str) and "{{" in text and len(text) <= MAX_SOURCE else text


@lru_cache(maxsize=2048)
def _whole_cached(text: str) -> str:
    start = len(text) - len(text.lstrip())
    if not text.startswith("{{", start) or _placeholder_end(text, start) != len(text.rstrip()):
        return text
    return text[start + 2 : len(text.rstrip()) - 2]


def _compile_all(source: str):
    """Compile every alternative and `{{ a ?? b }}` group of an expression, yielding each."""
    for part in _alternatives(source):
        compiled = _compile(part)
        yield compiled
        for inner in compiled.fallbacks:
            yield from _compile_all(inner)


def _sources(text: str, condition: bool) -> list[str]:
    if not isinstance(text, str):
        return []
    return [_whole(text)] if condition else [inner for _, _, inner in _placeholders(text)]


def check_syntax(text: str, *, condition: bool = False) -> list[str]:
    """Syntax errors in a template's placeholders, or in a whole condition; [] when fine."""
    try:
        sources = _sources(text, condition)
    except ExpressionError as exc:
        return [str(exc)]
    errors = []
    for source in sources:
        try:
            list(_compile_all(source))
        except ExpressionError as exc:
            errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - report it; validation must not crash
            errors.append(f"cannot read '{_short(source)}': {_first_line(exc)}")
    return errors


def references(text: str, *, condition: bool = False) -> set[str]:
    """Root variables an expression reads, e.g. {"trigger", "step_1"}; parts that do not parse are skipped."""
    names: set[str] = set()
    try:
        sources = _sources(text, condition)
    except ExpressionError:
        return names
    for source in sources:
        try:
            for compiled in _compile_all(source):
                names |= compiled.roots
        except Exception:  # noqa: BLE001, S112 - check_syntax reports it
            continue
    return names
