"""Small display helpers shared by the execution, approval and task admins."""

import json

from django.utils.html import format_html

SHOWN_CHARS = 10_000  # of one JSON value on a page; a loop's 10,000 items would be megabytes (the API has it all)
SHOWN_ITEMS = 50  # of one list or object, when the value is longer than SHOWN_CHARS
SHOWN_DEPTH = 8


def pretty_json(value, *, limit: int = SHOWN_CHARS) -> str:
    """Indented JSON in a scrollable block, a long value trimmed to a readable start with a note; a dash for none."""
    if value is None:
        return "—"
    compact = _dumps(value)  # without indent: the C encoder, fast even for megabytes
    pretty = _dumps(value, indent=2) if len(compact) <= limit else ""
    if pretty and len(pretty) <= limit:
        return format_html('<pre class="faos-json">{}</pre>', pretty)
    return shortened(_dumps(trim(value, SHOWN_DEPTH), indent=2), f"{len(compact):,}", limit=limit)


def shortened(text: str, total: str, *, limit: int = SHOWN_CHARS) -> str:
    """The start of a value's indented JSON, with a note that it was cut and how long the whole is."""
    return format_html(
        '<pre class="faos-json">{}\n…</pre><p class="faos-quiet">Shortened: {} characters in all. The API answers the '
        "whole value.</p>",
        text[:limit],
        total,
    )


def _dumps(value, indent=None) -> str:
    return json.dumps(value, indent=indent, default=str, ensure_ascii=False)


def trim(value, depth: int):
    """The first SHOWN_ITEMS of each list and object, SHOWN_DEPTH levels deep, saying how many more there are."""
    if depth <= 0 and isinstance(value, list | dict):
        return "…"
    if isinstance(value, list):
        more = [f"… {len(value) - SHOWN_ITEMS:,} more items"] if len(value) > SHOWN_ITEMS else []
        return [trim(item, depth - 1) for item in value[:SHOWN_ITEMS]] + more
    if isinstance(value, dict):
        shown = {key: trim(item, depth - 1) for key, item in list(value.items())[:SHOWN_ITEMS]}
        return shown | ({"…": f"{len(value) - SHOWN_ITEMS:,} more keys"} if len(value) > SHOWN_ITEMS else {})
    return value
