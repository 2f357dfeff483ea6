"""JSON from outside (API bodies, webhooks, admin text boxes): one strict parse with cheap, explicit limits."""

from __future__ import annotations

import json
import math
import re

MAX_DEPTH = 64  # nesting of objects and arrays; real payloads stay far below, a recursion bomb does not
MAX_INT_DIGITS = 100  # Python would happily build (and slowly print) a 4,000-digit integer
MAX_NUMBER_CHARS = 400  # a float literal longer than this is an attack, not a measurement
# String literals (skipped whole, escapes included) and brackets: linear, as the alternatives cannot overlap.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)


class JSONInputError(ValueError):
    """The text is not JSON we accept; the message says why, in words a caller can act on."""


def _constant(name: str):
    raise JSONInputError(f"{name} is not a JSON number")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONInputError(f"an integer has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise JSONInputError(f"a number is longer than {MAX_NUMBER_CHARS} characters")
    value = float(text)
    if not math.isfinite(value):  # 1e999 reads as infinity, which no JSON store accepts
        raise JSONInputError(f"the number {text[:40]} is out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_constant, parse_int=_integer, parse_float=_float)


def json_parse(text: str | bytes, *, max_depth: int = MAX_DEPTH):
    """The value of a JSON text; JSONInputError (a ValueError) for anything malformed or over a limit."""
    if isinstance(text, bytes | bytearray):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JSONInputError(f"not UTF-8 text (byte {exc.start})") from None
    _check_depth(text, max_depth)
    try:
        value = _DECODER.decode(text)
    except JSONInputError:
        raise
    except json.JSONDecodeError as exc:
        raise JSONInputError(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # belt and braces: nothing but JSONInputError leaves
        raise JSONInputError(str(exc)[:200] or type(exc).__name__) from None
    if "\\u0000" in text and _has_nul(value):  # PostgreSQL stores no U+0000 in text or jsonb
        raise JSONInputError("a string holds \\u0000 (NUL), which cannot be stored")
    return value


def _has_nul(value) -> bool:
    """True when a string or key anywhere in value holds U+0000 (no recursion: depth is already bounded)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _check_depth(text: str, max_depth: int) -> None:
    """Refuse deep nesting before parsing: the parser recurses once per level."""
    if text.count("[") + text.count("{") <= max_depth:
        return  # the common case costs two scans in C
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                raise JSONInputError(f"nested more than {max_depth} levels deep")
        elif token in "]}":
            depth -= 1
