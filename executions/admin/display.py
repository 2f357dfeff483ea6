"""Small display helpers shared by the execution, approval and task admins."""

import json

from django.utils.html import format_html


def pretty_json(value) -> str:
    """Indented JSON in a scrollable block; a dash for nothing."""
    if value is None:
        return "—"
    return format_html('<pre class="faos-json">{}</pre>', json.dumps(value, indent=2, default=str, ensure_ascii=False))
