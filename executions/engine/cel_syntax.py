"""The guide's syntax to CEL: tokens, `{{ … }}` placeholders, `??` alternatives, translation and compilation."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

import cel

from .cel_helpers import HELPERS
from .errors import ExpressionError

MAX_SOURCE = 4_000  # characters in one expression
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


def short(text) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= 80 else text[:77] + "..."


def _tokens(source: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) tokens; string literals stay whole so nothing rewrites their inside."""
    found, at = [], 0
    while at < len(source):
        if not (match := TOKEN.match(source, at)):
            char = source[at]
            what = "unterminated string literal" if char in "'\"" else f"unexpected character {char!r}"
            hint = " (use == to compare)" if char == "=" else ""
            raise ExpressionError(f"{what}{hint} in '{short(source)}'", expression=source)
        found.append((match.lastgroup, match.group(), at))
        at = match.end()
    return found


def placeholder_end(text: str, start: int) -> int:
    """Index just past the `}}` closing the `{{` at start; string literals and map braces are skipped."""
    depth, at, shown, window = 0, start + 2, short(text[start:]), min(len(text), start + MAX_SOURCE + 4)
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


def placeholders(text: str) -> list[tuple[int, int, str]]:
    """(start, end, inner source) of every `{{ … }}` in a template."""
    found, at = [], 0
    while (start := text.find("{{", at)) != -1:
        at = placeholder_end(text, start)
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
def alternatives(source: str) -> tuple[str, ...]:
    """`a ?? b ?? c` → ("a", "b", "c"): each is tried while the ones before are missing or null."""
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"expression longer than {MAX_SOURCE} characters", expression=source[:80])
    parts = tuple("".join(t[1] for t in part) for part in _split_top(_tokens(source)))
    if len(parts) > 1 and not all(p.strip() for p in parts):
        raise ExpressionError(f"'??' needs a value on each side in '{short(source)}'", expression=source)
    return parts


def _translate(source: str) -> tuple[list[tuple[str, str]], list[str]]:
    """CEL tokens for the guide's syntax, and the `{{ a ?? b }}` groups to evaluate beforehand."""
    tokens = [t for t in _tokens(source) if t[0] != "ws"]
    out, fallbacks, i = [], [], 0
    while i < len(tokens):
        kind, text, offset = tokens[i]
        if text == "??":
            raise ExpressionError(f"'??' works only at the top level: '{short(source)}'", expression=source)
        if text != "{{":
            dotted = i > 0 and tokens[i - 1][1] == "."  # `x.and` is a field, not an operator
            out.append(("op", WORDS[text]) if text in WORDS and (kind == "op" or not dotted) else (kind, text))
            i += 1
            continue
        end = placeholder_end(source, offset)
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


class Compiled(NamedTuple):
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
def compile_source(source: str) -> Compiled:
    tokens, fallbacks = _translate(source)
    try:
        program = cel.compile(" ".join(t[1] for t in tokens))
    except Exception as exc:  # noqa: BLE001 - the binding reports syntax errors as ValueError, maybe others
        raise ExpressionError(f"syntax error in '{short(source)}': {_parse_reason(exc)}", expression=source)
    macros, paths, bound = _shape(tokens)
    variables = tuple(program.variables())
    roots = frozenset(v for v in variables if v not in bound and not v.startswith(FALLBACK))
    helpers = tuple(f for f in program.functions() if f in HELPERS)
    pluses = tuple(i for i, t in enumerate(tokens) if t == ("op", "+"))
    needs = {}
    for path, _, _ in paths:
        needs.setdefault(path[0], set()).add(path[1:])
    shape = tuple(paths), tuple(macros), pluses, tokens.count(("op", ",")), needs
    return Compiled(program, variables, roots, helpers, tuple(fallbacks), *shape)


def _parse_reason(exc: Exception) -> str:
    found = re.search(r"ERROR: <input>:\d+:\d+: (?:Syntax error: )?([^\n]*)", str(exc))
    reason = found.group(1).split(" expecting")[0] if found else first_line(exc)
    return reason.replace("mismatched input '<EOF>'", "it ends too early")[:200]


def first_line(exc: BaseException) -> str:
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
