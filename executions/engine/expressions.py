"""`{{ … }}` templates and conditions: the guide's syntax, translated to CEL, over JSON-like data only.

Translation and compilation live in cel_syntax, the callable helpers in cel_helpers; this module evaluates.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

import cel

from .cel_helpers import GUARDED, MAX_TEXT, as_text, failure, kind_of
from .cel_syntax import (
    FALLBACK,
    MAX_SOURCE,
    PATH,
    PATH_PART,
    Compiled,
    alternatives,
    compile_source,
    first_line,
    placeholder_end,
    placeholders,
    short,
)
from .errors import ExpressionError
from .limits import RenderBudget

MAX_DATA = 200_000  # data nodes handed to CEL (or returned) by one evaluation; converting costs ~1 µs each
MAX_DEPTH = 64
# CEL has no timeout, so work is estimated up front and refused over this (~1 s). cel-rust's map/filter copy
# their result so far on every item (items² × item size); nested comprehensions multiply.
MAX_WORK = 5_000_000


class MissingValue(ExpressionError):
    """A path or variable does not exist; `a ?? b` falls back to b on it."""


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
                why = f"{walked} is {kind_of(value)}, not a {'map' if isinstance(part, str) else 'list'}"
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
    parts = alternatives(source)
    for i, part in enumerate(parts, 1):
        try:
            value = _fast_path(part, context) if PATH.fullmatch(part) else _run(part, context)
        except MissingValue:
            if i == len(parts):
                raise
            continue
        if value is not None or i == len(parts):
            return value


def _run(source: str, context: dict):
    compiled, stats, env = compile_source(source), _Stats(), cel.Context()
    for name in compiled.variables:  # only the data it reads: converting data is the main cost
        if name in context:
            env.add_variable(name, _data(_prune(context[name], compiled.needs.get(name, {()})), stats)[0])
    for i, inner in enumerate(compiled.fallbacks):
        env.add_variable(f"{FALLBACK}{i}", _data(_evaluate(inner, context), stats)[0])
    for name in compiled.helpers:
        env.add_function(name, GUARDED[name])
    _check_work(compiled, context, stats, source)
    failure.reason = None
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


def _check_work(compiled: Compiled, context: dict, stats: _Stats, source: str):
    """Refuse what would run too long, estimated from the data's shape and the expression's."""
    sizes = {i: _path_size(p, context, stats) for p, iterated, i in compiled.paths if not iterated}
    literal = compiled.commas + 1  # no list literal is longer
    n = max(stats.longest, literal) * (len(compiled.pluses) + 1)
    item = max(stats.item, literal, *sizes.values(), 1)
    if _work(compiled, sizes, n, item, -1, 1 << 30) > MAX_WORK:
        raise ExpressionError(
            f"'{short(source)}' would take too long: list operations over about {n} items "
            "(narrow the list first, or use a loop step)",
            expression=source,
        )


def _work(compiled: Compiled, sizes: dict, n: int, item: int, lo: int, hi: int) -> int:
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


def _runtime_error(exc: Exception, compiled: Compiled, context: dict, source: str) -> ExpressionError:
    """cel's exception as an ExpressionError, naming the missing path when there is one."""
    reason = f"no key {exc}" if isinstance(exc, KeyError) else first_line(exc).split(". ")[0]
    undefined = re.match(r"Undefined variable or function: '([^']*)'", reason)
    if undefined and undefined.group(1) in compiled.program.functions():
        return ExpressionError(f"unknown function '{undefined.group(1)}' in '{short(source)}'", expression=source)
    if "Failed to convert Python result" in reason and getattr(failure, "reason", None):
        return ExpressionError(f"cannot evaluate '{short(source)}': {failure.reason}", expression=source)
    if not (undefined or isinstance(exc, KeyError | IndexError)):
        return ExpressionError(f"cannot evaluate '{short(source)}': {reason}", expression=source)
    for path, _, _ in compiled.paths:
        try:
            if path[0] in compiled.roots:
                _lookup(list(path), context, _path_text(path))
        except MissingValue as missing:
            missing.expression = source
            return missing
    return MissingValue(f"cannot evaluate '{short(source)}': {reason}", expression=source)


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
        return {as_text(k): _plain(v, budget) for k, v in value.items()}
    raise ExpressionError(f"unsupported result: {type(value).__name__}")


def _guard(step: str | None, function, *args):
    """Public entry points raise ExpressionError and nothing else, naming the step."""
    try:
        return function(*args)
    except ExpressionError as exc:
        if step is None or exc.step is not None:
            raise
        raise type(exc)(str(exc), expression=exc.expression, step=step, path=exc.path) from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence: nothing else may escape
        raise ExpressionError(f"cannot evaluate: {type(exc).__name__}: {first_line(exc)}", step=step) from None
    except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException, a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        raise ExpressionError(f"cannot evaluate: {first_line(exc)}", step=step) from None


# --- public API -----------------------------------------------------------------------------------


def evaluate(expression: str, context: dict, *, step: str | None = None):
    """Evaluate one expression (no braces needed) to a plain Python value."""
    return _guard(step, _evaluate, expression, context)


def render(value, context: dict, *, step: str | None = None, budget: RenderBudget | None = None):
    """Render placeholders in strings, dicts and lists; a lone `{{ x }}` keeps x's type.

    Everything the placeholders produce is charged to budget (one per step attempt, shared by its calls).
    """
    return _guard(step, _render, value, context, budget or RenderBudget())


def _render(value, context: dict, budget: RenderBudget):
    if isinstance(value, dict):
        return {k: _render(v, context, budget) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render(v, context, budget) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    spots = placeholders(value)
    if len(spots) == 1 and not value[: spots[0][0]].strip() and not value[spots[0][1] :].strip():
        result = _evaluate(spots[0][2], context)
        budget.charge(result, spots[0][2])  # a shared reference costs what storing it would
        return copy_json(result)  # a copy: the step may change what it got, never what a later step reads
    pieces, at, size = [], 0, len(value)
    for start, end, inner in spots:
        pieces += [value[at:start], as_text(_evaluate(inner, context))]
        at, size = end, size + len(pieces[-1])
        if size > MAX_TEXT:
            raise ExpressionError(f"the rendered text is longer than {MAX_TEXT} characters", expression=inner)
        budget.charge(pieces[-1], inner)
    return "".join(pieces) + value[at:]


def copy_json(value):
    """A copy of JSON-like data (dicts and lists copied, leaves shared: they are immutable), so a step never
    changes what a later step reads."""
    if isinstance(value, dict):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_json(item) for item in value]
    return value


def evaluate_condition(text: str, context: dict, *, step: str | None = None) -> bool:
    """A true/false condition in the guide's syntax or plain CEL; anything but a bool is an error."""
    return _guard(step, _condition, text, context)


def _condition(text: str, context: dict) -> bool:
    value = _evaluate(_whole(text), context)
    if not isinstance(value, bool):
        raise ExpressionError(f"condition must be true or false, got {short(as_text(value))!r}", expression=text)
    return value


def _whole(text: str) -> str:
    """The inside of a condition that is a single `{{ … }}`, so a plain path takes the fast path."""
    return _whole_cached(text) if isinstance(text, str) and "{{" in text and len(text) <= MAX_SOURCE else text


@lru_cache(maxsize=2048)
def _whole_cached(text: str) -> str:
    start = len(text) - len(text.lstrip())
    if not text.startswith("{{", start) or placeholder_end(text, start) != len(text.rstrip()):
        return text
    return text[start + 2 : len(text.rstrip()) - 2]


def _compile_all(source: str):
    """Compile every alternative and `{{ a ?? b }}` group of an expression, yielding each."""
    for part in alternatives(source):
        compiled = compile_source(part)
        yield compiled
        for inner in compiled.fallbacks:
            yield from _compile_all(inner)


def _sources(text: str, condition: bool) -> list[str]:
    if not isinstance(text, str):
        return []
    return [_whole(text)] if condition else [inner for _, _, inner in placeholders(text)]


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
            errors.append(f"cannot read '{short(source)}': {first_line(exc)}")
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
