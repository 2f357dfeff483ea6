"""A JSON column shown from its first characters: a page reads a bounded head of the value's text from the
database (`left(col::text, N)`), never the whole value, and decodes only that head."""

import json
import re

from django.db.models import TextField
from django.db.models.functions import Cast, Left

from .display import SHOWN_CHARS, SHOWN_DEPTH, SHOWN_ITEMS, pretty_json, shortened, trim

HEAD_CHARS = SHOWN_CHARS  # read of one value: a longer one pretty_json would shorten anyway, so its start is enough
SUFFIX = "_faos_head"
_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
_LEFT_OUT = object()  # a number or word the cut went through: not shown


def json_heads(*names: str) -> dict:
    """Annotations holding the first HEAD_CHARS + 1 characters of each JSON column (one more tells it was cut)."""
    return {name + SUFFIX: Left(Cast(name, TextField()), HEAD_CHARS + 1) for name in names}


def shown_json(obj, name: str) -> str:
    """pretty_json of the column, from its head when the queryset read one (json_heads), else from the value."""
    if not hasattr(obj, name + SUFFIX):
        return pretty_json(getattr(obj, name))
    head = getattr(obj, name + SUFFIX)
    if head is None:
        return pretty_json(None)
    if len(head) <= HEAD_CHARS:  # the whole value: shown exactly as before
        return pretty_json(json.loads(head))
    text = json.dumps(head_value(head[:HEAD_CHARS]), indent=2, default=str, ensure_ascii=False)
    return shortened(text, f"more than {HEAD_CHARS:,}")


def head_value(text: str, depth: int = SHOWN_DEPTH):
    """The value a JSON text cut short starts with, trimmed like a whole one (display.trim); what the cut took
    off says so: "… more items" ends a list, a "…" key an object, "…" a string."""
    value, _ = _value(text, _SPACE.match(text).end(), depth)
    return "…" if value is _LEFT_OUT else value


def _value(text: str, at: int, depth: int) -> tuple[object, int | None]:
    """(the value at `at`, where it ends); None as the end when the text stops inside it."""
    try:
        value, end = _DECODER.raw_decode(text, at)  # whole values decode in C, at any depth
    except (ValueError, RecursionError):
        pass
    else:
        if end < len(text) or type(value) not in (int, float):  # a number at the very end may go on
            return trim(value, depth), end
    opener = text[at : at + 1]
    if depth <= 0 and opener in ("[", "{"):
        return "…", None
    if opener == "[":
        return _list(text, at + 1, depth)
    if opener == "{":
        return _object(text, at + 1, depth)
    if opener == '"':
        return _string(text[at + 1 :]), None
    return _LEFT_OUT, None


def _list(text: str, at: int, depth: int) -> tuple[list, int | None]:
    """The first SHOWN_ITEMS items of a list the text stops in (or that is too deep for the C decoder)."""
    items = []
    while len(items) < SHOWN_ITEMS:
        at = _SPACE.match(text, at).end()
        if text.startswith("]", at):
            return items, at + 1
        if at >= len(text):
            break
        value, end = _value(text, at, depth - 1)
        if value is not _LEFT_OUT:
            items.append(value)
        if end is None:
            break
        at = _SPACE.match(text, end).end()
        at += text.startswith(",", at)
    return items + ["… more items"], None


def _object(text: str, at: int, depth: int) -> tuple[dict, int | None]:
    """The first SHOWN_ITEMS keys of an object the text stops in, the last one's value as far as it goes."""
    shown = {}
    while len(shown) < SHOWN_ITEMS:
        at = _SPACE.match(text, at).end()
        if text.startswith("}", at):
            return shown, at + 1
        try:
            key, at = json.decoder.scanstring(text, at + 1)
        except ValueError:  # the key itself was cut
            break
        at = _SPACE.match(text, at).end() + 1  # past the colon
        value, end = _value(text, _SPACE.match(text, at).end(), depth - 1)
        shown[key] = "…" if value is _LEFT_OUT else value
        if end is None:
            break
        at = _SPACE.match(text, end).end()
        at += text.startswith(",", at)
    return shown | {"…": "more keys"}, None


def _string(rest: str) -> str:
    """A string the text stops in: its start, without a half escape, and "…"."""
    for cut in range(min(len(rest), 12) + 1):  # a cut escape is at most 11 characters (a half surrogate pair)
        try:
            start = json.loads(f'"{rest[: len(rest) - cut]}"')
        except ValueError:
            continue
        return re.sub("[\ud800-\udfff]", "", start) + "…"  # no lone half of a pair: it cannot be encoded
    return "…"
