"""Database helpers shared by the apps."""

from __future__ import annotations

from django.db import connection

# A CTE body, `WITH …, quick AS (QUICK_COMMIT_CTE) SELECT … FROM …, quick`: see commit_without_waiting.
QUICK_COMMIT_CTE = "SELECT set_config('synchronous_commit', 'off', true)"


def commit_without_waiting() -> None:
    """Let the current transaction's commit return before its WAL reaches the disk (PostgreSQL only).

    Only for transactions whose loss in a database crash is recovered by design: a step claim (the lease runs out
    and the same attempt runs again) and an outbox delivery (the row stays unsent and the sweep delivers it). Run
    starts and step completions keep waiting for the disk. The database stays consistent either way.

    Two forms, one setting: in a transaction, call this (SET LOCAL). A single statement run in autocommit (the
    one-statement step claim) has no transaction to SET LOCAL in, so it embeds QUICK_COMMIT_CTE instead:
    set_config(…, true) is local to the statement's own implicit transaction, exactly as SET LOCAL is.
    """
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
