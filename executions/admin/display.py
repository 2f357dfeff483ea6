"""Small display helpers shared by the execution, approval and task admins."""

import json

from django.utils.html import format_html

SHOWN_CHARS = 20_000  # of one JSON value on a page; a loop's 10,000 items would be megabytes (the API has it all)


def pretty_json(value, *, limit: int = SHOWN_CHARS) -> str:
    """Indented JSON in a scrollable block, cut after `limit` characters with a note; a dash for nothing."""
    if value is None:
        return "—"
    text = json.dumps(value, indent=2, default=str, ensure_ascii=False)
    if len(text) <= limit:
        return format_html('<pre class="faos-json">{}</pre>', text)
    return format_html(
        '<pre class="faos-json">{}\n…</pre><p class="faos-quiet">Cut at {} of {} characters: the API answers the '
        "whole value.</p>",
        text[:limit],
        f"{limit:,}",
        f"{len(text):,}",
    )
