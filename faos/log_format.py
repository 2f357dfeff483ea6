"""Log formatters: JSON lines (LOG_FORMAT=json) or text with key=value fields, both carrying `extra` fields.

Run and step transitions log their ids and timings as `extra={...}` fields; only plain values are kept
(strings, numbers, booleans), so an object that happens to ride on a record (Django's request) never
prints itself, query string and all.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
PLAIN = (str, int, float, bool, type(None))
# A value written as is unless it is empty or holds one of these (then JSON-quoted): a run's ids and counts never do.
NEEDS_QUOTES = re.compile(r'[ "=\n]')


def fields(record: logging.LogRecord) -> dict:
    """The record's extra fields with plain values, in the order they were given."""
    return {k: v for k, v in vars(record).items() if k not in STANDARD and k[0] != "_" and isinstance(v, PLAIN)}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **fields(record),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class KeyValueFormatter(logging.Formatter):
    """`2026-12-01 22:30:00,123 INFO faos.runs step finished execution_id=7 step=send …`."""

    def __init__(self, fmt: str | None = None, *args, **kwargs):
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s %(message)s", *args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line, _, trace = super().format(record).partition("\n")
        pairs = " ".join(f"{key}={_quoted(value)}" for key, value in fields(record).items())
        line = f"{line} {pairs}" if pairs else line
        return f"{line}\n{trace}" if trace else line


def _quoted(value) -> str:
    """Each run and step transition logs a line (~35 µs, ~3 a step): the common values take the short way."""
    if value is None:
        return '""'
    text = value if type(value) is str else str(value)
    return json.dumps(text) if not text or NEEDS_QUOTES.search(text) else text
