"""Scopes name where a step run sits: "" at the top, "loop_key[3]" in a loop body, nested with "/"."""

import re

SEGMENT = re.compile(r"^(?P<key>[a-z_][a-z0-9_]*)\[(?P<index>\d+)\]$")


def child(parent: str, loop_key: str, index: int) -> str:
    segment = f"{loop_key}[{index}]"
    return f"{parent}/{segment}" if parent else segment


def split(scope: str) -> tuple[str, str, int]:
    """("parent scope", loop key, item index) of a loop-body scope."""
    parent, _, last = scope.rpartition("/")
    match = SEGMENT.match(last)
    if match is None:
        raise ValueError(f"not a loop scope: {scope!r}")
    return parent, match["key"], int(match["index"])


def prefixes(scope: str) -> list[str]:
    """Every enclosing scope, outermost first, including "" and the scope itself."""
    if not scope:
        return [""]
    parts = scope.split("/")
    return [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]
