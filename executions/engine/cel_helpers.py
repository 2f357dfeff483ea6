"""The helpers an expression may call (length, lower, days_since…): typed, bounded, failures explained."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

MAX_TEXT = 1_000_000  # characters in a rendered string or a helper's result


def utcnow() -> datetime:
    """The clock the date helpers read; tests patch it, and time-machine moves it."""
    return datetime.now(UTC)


failure = threading.local()  # why the last helper failed, for the error message
UNCONVERTIBLE = object()  # a failing helper returns this: cel cannot convert it and fails without logging


def kind_of(value) -> str:
    names = {bool: "true/false", str: "text", list: "a list", dict: "a map", datetime: "a date-time"}
    return "null" if value is None else "a number" if type(value) in (int, float) else names.get(type(value), "?")


def _need(value, kinds, what: str):
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"expected {what}, got {kind_of(value)}")
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
    "join": lambda items, sep: _text_arg(sep).join(as_text(i) for i in _need(items, (list,), "a list")),
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
            failure.reason = f"{name}() does not take {len(args)} values" if "argument" in str(exc) else str(exc)
        except Exception as exc:  # noqa: BLE001 - any helper failure is the expression's error
            failure.reason = str(exc)
        failure.reason = f"{name}(): {failure.reason}"
        return UNCONVERTIBLE

    return call


GUARDED = {name: _guarded(name, function) for name, function in HELPERS.items()}


def as_text(value) -> str:
    """How a value reads inside text: JSON for maps and lists, '' for null, true/false."""
    if value is None or isinstance(value, bool):
        return {None: "", True: "true", False: "false"}[value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=as_text)
    return str(value)
